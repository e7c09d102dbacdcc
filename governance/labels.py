"""Governance's codes and their labels, registered with the shell's label registry at start-up."""

from django.utils.translation import gettext_lazy as _

from cityos.i18n import local_name
from cityos.labels import labels_provider_register, labels_register
from governance.models import Channel, Priority, Status

# Workflow actions as a timeline or a button reads them (已派单, 受理…).
ACTION_LABELS = {
    "receive": _("Received"),
    "received": _("Received"),
    "dispatch": _("Dispatch"),
    "reassign": _("Reassign"),
    "accept": _("Accept"),
    "start": _("Start work"),
    "suspend": _("Suspend"),
    "resume": _("Resume"),
    "resolve": _("Resolve"),
    "return": _("Return"),
    "reject": _("Reject"),
    "verify": _("Verify"),
    "close": _("Close"),
    "reopen": _("Reopen"),
    "merge": _("Merge"),
    "answer": _("Answered directly"),
    "rated": _("Rated"),
    "recategorised": _("Recategorised"),
    "overdue": _("Overdue"),
    "supervised": _("Supervised"),
    "attachment_added": _("Attachment added"),
    "import": _("Imported"),
}


def register() -> None:
    labels_register("status", Status.choices)
    labels_register("status", Priority.choices)
    labels_register("channel", Channel.choices)
    labels_register("action", ACTION_LABELS)
    labels_provider_register("category", category_label)


def category_label(code: str) -> str | None:
    """A case category's name in the active language (what analysis and briefings show for the
    category codes case events carry)."""
    from governance.models import Category

    category = Category.objects.filter(code=code).only("name", "name_en").first()
    return local_name(category) if category else None
