"""Governance's part of the search index: cases (no personal data), pushed after every change and
rebuilt by the provider; category labels and words for query understanding; who sees which case.
"""

from collections.abc import Iterator
from datetime import UTC

from django.urls import reverse

from cityos.roles import Role
from datahub import facade
from governance import permissions
from governance.models import OPEN_STATUSES, Case, Category, GridAssignment

CHUNK = 2000


def case_item(case: Case, category_code: str | None = None) -> dict:
    """The index item of a case. Reporter names, phones and e-mails stay out; so does the
    address text (it can be a home address): the area and the point place the case."""
    code = category_code if category_code is not None else (case.category.code if case.category_id else "")
    state = "open" if case.status in OPEN_STATUSES else "done"
    return {
        "kind": "case",
        "key": str(case.id),
        "title": case.title,
        "body": case.description,
        "identifiers": case.tracking_number,
        "url": reverse("governance:case", args=[case.id]),
        "time": case.created_at,
        "area_id": case.area_id,
        "lon": case.location.x if case.location else None,
        "lat": case.location.y if case.location else None,
        "department_id": case.department_id,
        "level": "restricted",
        # Grid workers see their grids' cases (selectors.case_visible_to); dispatchers every case.
        "grants": [f"grid:{case.grid_id}"] if case.grid_id else [],
        "facets": {
            "category": code,
            "status": case.status,
            "state": state,
            "type": case.channel,
            "due": case.due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if case.due_at and state == "open"
            else "",
        },
    }


def case_index(case: Case, category_code: str | None = None) -> None:
    """Push one case to the index (written after the caller's transaction commits)."""
    facade.search_index_upsert([case_item(case, category_code)])


def cases_provider() -> Iterator[dict]:
    codes = dict(Category.objects.values_list("id", "code"))
    qs = Case.objects.order_by("id").defer("reporter_name", "reporter_phone", "reporter_email", "classification")
    for case in qs.iterator(chunk_size=CHUNK):
        yield case_item(case, codes.get(case.category_id, ""))


def category_labels() -> dict:
    """Labels of the category facet, and the words that mean a category in a query (噪音 → noise)."""
    out = {}
    for c in Category.objects.filter(is_active=True):
        keywords = [k.strip() for k in c.keywords.replace("，", ",").split(",") if k.strip()]
        words = [c.name, c.name_en] + [w for w in keywords if len(w) >= 2 and not w.isascii()]
        out[c.code] = {"label": c.name, "label_en": c.name_en or c.name, "words": words}
    return {"category": out}


def access_tokens(user) -> list[str]:
    """Dispatchers (the 12345 centre, city-wide roles) see every case; grid workers their grids'."""
    if not user or not user.is_authenticated:
        return []
    tokens = []
    if permissions.is_dispatcher(user):
        tokens.append("kind:case")
    if user.role == Role.GRID_WORKER:
        grids = GridAssignment.objects.filter(worker=user, is_active=True).values_list("grid_id", flat=True)
        tokens += [f"grid:{g}" for g in grids]
    return tokens


def register() -> None:
    facade.search_provider_register("case", cases_provider, label="工单", label_en="Case", facet_labels=category_labels)
    facade.search_access_register(access_tokens)
