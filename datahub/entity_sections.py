"""Sections other features add to the entity page (cases about it, its licences, its sensors…).

    # in an app's AppConfig.ready(), through the facade:
    facade.entity_page_section_register(
        key="cases", title=_("Cases"), template_name="governance/entity_cases.html",
        context_function="governance.selectors.entity_cases_context",
    )

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
