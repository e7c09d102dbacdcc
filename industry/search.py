"""Searchable items of the industry wing for the datahub search index (the lead wires
`search_items` to `facade.search_provider_register("enterprise", …)` at merge).

Items carry no personal data: the legal representative's name is left out; USCCs and licence
numbers are public registry identifiers."""

from collections.abc import Iterator

from industry.models import Enterprise, Licence, Policy


def search_items(ids: list[int] | None = None) -> Iterator[dict]:
    """One item per enterprise (kind "enterprise"), then one per active policy (kind "policy")."""
    qs = Enterprise.objects.select_related("industry").prefetch_related("tags").order_by("id")
    if ids is not None:
        qs = qs.filter(id__in=ids)
    licences: dict[int, list[str]] = {}
    for eid, number in (
        Licence.objects.filter(enterprise__in=qs).exclude(number="").values_list("enterprise_id", "number")
    ):
        licences.setdefault(eid, []).append(number)
    for e in qs.iterator(chunk_size=2000):
        loc = e.location
        industry = e.industry
        tags = [t.name for t in e.tags.all()]
        yield {
            "kind": "enterprise",
            "key": str(e.id),
            "title": e.name,
            "title_en": e.name_en,
            "body": " ".join(filter(None, [industry.name if industry else "", e.address, " ".join(tags)])),
            "body_en": " ".join(
                filter(None, [industry.name_en if industry else "", " ".join(t.name_en for t in e.tags.all())])
            ),
            "identifiers": " ".join(filter(None, [e.uscc or "", *licences.get(e.id, [])])),
            "url": f"/industry/enterprises/{e.id}/",
            "time": e.updated_at,
            "area_id": e.area_id,
            "lon": loc.x if loc else None,
            "lat": loc.y if loc else None,
            "department_id": e.department_id,
            "level": "internal",
            "facets": {"category": e.section_code or "", "status": e.status},
        }
    if ids is None:
        yield from policy_items()


def policy_items(ids: list[int] | None = None) -> Iterator[dict]:
    """One item per active policy (kind "policy"); with ids, those of them still active."""
    qs = Policy.objects.filter(status="active").order_by("id")
    if ids is not None:
        qs = qs.filter(id__in=ids)
    for p in qs:
        yield {
            "kind": "policy",
            "key": str(p.id),
            "title": p.title,
            "title_en": p.title_en,
            "body": f"{p.benefit} {p.text}"[:5000],
            "body_en": f"{p.benefit_en} {p.text_en}"[:5000],
            "identifiers": p.code,
            "url": f"/industry/policies/{p.id}/",
            "time": p.updated_at,
            "area_id": None,
            "lon": None,
            "lat": None,
            "department_id": p.department_id,
            "level": "public",
            "facets": {"category": "automatic" if p.automatic else "application", "status": p.status},
        }
