"""Forms of the monitoring pages."""

import json

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from cityos.models import EventSubscription
from cityos.roles import Role
from datahub.core.models import Department
from datahub.monitoring.models import AlertRule, Channel, NotificationPreference, Severity, WebhookEvent
from datahub.monitoring.services.cases import case_categories
from datahub.monitoring.services.evaluators import RuleParamError
from datahub.monitoring.services.rules import RULE_FIELDS, SERIES_KINDS, rule_validate

PARAM_EXAMPLES = {
    "threshold": {"op": ">", "threshold": 150, "duration_s": 7200, "clear_threshold": 120, "max_gap_s": 3600},
    "rate_of_change": {"rate_per_hour": 80, "clear_rate_per_hour": 20, "direction": "rise", "min_span_s": 1800},
    "no_data": {"timeout_s": 3600},
    "anomaly": {"z": 3.5, "clear_z": 1.5, "seasonal": "hour_of_week", "window": 8, "utc_offset_s": 28800},
    "event_count": {"event_type": "complaint.noise", "window_s": 3600, "count": 20, "clear_count": 10},
    "combination": {
        "mode": "all",
        "children": [
            {"kind": "threshold", "metric": "pm25", "params": {"threshold": 150}},
            {"kind": "threshold", "metric": "pm10", "params": {"threshold": 250}},
        ],
    },
}


def _case_category_field(form) -> None:
    """The rule's case category as a list of the categories the case-handling app registered
    (a free code box if none did); the current value stays selectable even if since retired."""
    choices = case_categories()
    if not choices:
        return
    current = form.instance.case_category if form.instance.pk else ""
    if current and current not in {c for c, _l in choices}:
        choices = [*choices, (current, current)]
    form.fields["case_category"] = forms.ChoiceField(
        label=AlertRule._meta.get_field("case_category").verbose_name.capitalize(),
        help_text=AlertRule._meta.get_field("case_category").help_text,
        choices=[("", "—"), *choices],
        required=False,
    )


class RuleForm(forms.ModelForm):
    params = forms.CharField(label=_("Parameters (JSON)"), widget=forms.Textarea(attrs={"rows": 8, "class": "mono"}))

    class Meta:
        model = AlertRule
        fields = [name for name in RULE_FIELDS if name != "params"]  # params: the JSON box above
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "area": forms.NumberInput(),
            "subject": forms.NumberInput(),
            # An id box, not a <select> of every datastream; a missing id is "not a valid choice".
            "datastream": forms.NumberInput(),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _case_category_field(self)
        if not self.instance.pk:
            self.fields["kind"].initial = AlertRule.Kind.THRESHOLD
        self.fields["params"].initial = json.dumps(
            self.instance.params if self.instance.pk else PARAM_EXAMPLES["threshold"], ensure_ascii=False, indent=1
        )

    def clean_params(self):
        try:
            value = json.loads(self.cleaned_data["params"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The parameters must be a JSON object."))
        return value

    def clean(self):
        data = super().clean()
        datastream = data.get("datastream")
        if datastream is not None and not data.get("metric") and data.get("kind") in SERIES_KINDS:
            data["metric"] = datastream.metric  # a rule on one datastream watches its metric
        if "params" in data and data.get("kind"):
            try:
                data["params"] = rule_validate(
                    kind=data["kind"],
                    params=data["params"],
                    metric=data.get("metric") or "",
                    datastream_id=datastream.id if datastream else None,
                )
            except RuleParamError as exc:
                field = next((f for f in ("metric", "datastream") if str(exc).startswith(f)), "params")
                self.add_error(field, str(exc))
        return data


class PreferenceForm(forms.ModelForm):
    rule_kinds = forms.MultipleChoiceField(
        label=_("Rule kinds"),
        choices=AlertRule.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every kind"),
    )

    class Meta:
        model = NotificationPreference
        fields = ["enabled", "min_severity", "rule_kinds", "quiet_start", "quiet_end", "quiet_action"]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}),
        }


# --- escalation chains ------------------------------------------------------------------------------


class EscalationPolicyForm(forms.Form):
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none())
    repeat_minutes = forms.IntegerField(
        label=_("Repeat every (minutes)"),
        min_value=1,
        initial=30,
        help_text=_("After the last level, notify it again at this interval until someone acknowledges"),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments


class EscalationLevelForm(forms.Form):
    after_minutes = forms.IntegerField(
        label=_("After (minutes)"),
        min_value=1,
        help_text=_("Unacknowledged this long after the previous notification"),
        widget=forms.NumberInput(attrs={"class": "narrow"}),
    )
    users = forms.ModelMultipleChoiceField(
        label=_("Users"), queryset=None, required=False, widget=forms.SelectMultiple(attrs={"size": 4})
    )
    roles = forms.MultipleChoiceField(
        label=_("Roles in the department"),
        choices=[(r.value, r.label) for r in Role if r != Role.EXTERNAL_DEVELOPER],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every channel"),
    )

    def __init__(self, *args, recipients=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].queryset = recipients if recipients is not None else get_user_model().objects.none()

    def clean(self):
        data = super().clean()
        if not data.get("users") and not data.get("roles") and "after_minutes" in data:
            raise forms.ValidationError(_("Name at least one user or role to notify."))
        return data


LevelFormSet = forms.formset_factory(EscalationLevelForm, extra=1, can_delete=True, min_num=1, validate_min=True)


# --- webhooks ---------------------------------------------------------------------------------------


class WebhookForm(forms.ModelForm):
    """A monitoring webhook: the city's own event subscription to alerts (cityos.webhooks)."""

    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("Receives a signed JSON POST per event"),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=WebhookEvent.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event"),
    )
    min_severity = forms.ChoiceField(
        label=_("minimum severity"),
        choices=[("", _("Every severity")), *reversed(Severity.choices)],
        required=False,
    )

    class Meta:
        model = EventSubscription
        fields = ["name", "url", "department", "events", "min_severity", "max_attempts", "disable_after"]

    def __init__(self, *args, departments, allow_citywide: bool, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["department"]
        field.queryset = departments
        field.required = not allow_citywide
        field.empty_label = _("Every department") if allow_citywide else None
        self.fields["max_attempts"].min_value = 1
        self.fields["max_attempts"].widget.attrs["min"] = 1
        self.fields["disable_after"].min_value = 1
        self.fields["disable_after"].widget.attrs["min"] = 1

    def clean_max_attempts(self):
        value = self.cleaned_data["max_attempts"]
        if not 1 <= value <= 20:
            raise forms.ValidationError(_("Between 1 and 20 attempts."))
        return value

    def clean_disable_after(self):
        value = self.cleaned_data["disable_after"]
        if value < 1:
            raise forms.ValidationError(_("At least 1."))
        return value
