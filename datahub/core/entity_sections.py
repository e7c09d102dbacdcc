"""Sections the capabilities above the core add to the entity page from their setup hooks: the
dataset rows linked to the entity (datasets) and the documents that mention it (text). The core's
entity page renders whatever is registered without knowing the capabilities.

`context_function(entity_id=…, user=…) -> dict | None` gives the template its context; returning
None hides the section (nothing to show, or not for this user).
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class EntitySection:
    key: str
    title: str | Promise
    template_name: str
    context_function: str
    order: int = 100


_SECTIONS: dict[str, EntitySection] = {}


def register(section: EntitySection) -> None:
    _SECTIONS[section.key] = section


def unregister(key: str) -> None:
    _SECTIONS.pop(key, None)


def render_list(*, entity_id: int, user) -> list[dict]:
    out = []
    for section in sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key)):
        context = import_string(section.context_function)(entity_id=entity_id, user=user)
        if context is not None:
            out.append(
                {"key": section.key, "title": section.title, "template": section.template_name, "context": context}
            )
    return out
