"""The live feed's lines: an event as a readable sentence with a link, never its code.

    event_line(event) -> {"text": "工单超期 · 2026120300012 路灯不亮 · 江南区", "url": "/governance/cases/12/"}

Links come from the event's `object_ref` ("governance:case:12"): each kind names the page that shows
it. The same lines are built in the browser for live pushes (cityos/static/cityos/live.js) from
the labels the home page embeds.
"""

from django.urls import NoReverseMatch, reverse

from cityos.i18n import local_name
from cityos.labels import event_label

# object_ref kind -> URL name of its page (taking the object's id).
OBJECT_PAGES = {
    "governance:case": "governance:case",
    "datahub:entity": "datahub:entity-detail",
    "datahub:alert": "monitoring:alert",
    "industry:appeal": "industry:appeal",
}


def object_url(object_ref: str, subject_id: int | None = None) -> str:
    kind, _sep, ident = (object_ref or "").rpartition(":")
    name = OBJECT_PAGES.get(kind)
    if name and ident.isdigit():
        try:
            return reverse(name, args=[int(ident)])
        except NoReverseMatch:
            return ""
    if subject_id:
        return reverse("datahub:entity-detail", args=[subject_id])
    return ""


def event_line(event) -> dict:
    payload = event.payload or {}
    what = " ".join(str(p) for p in (payload.get("tracking_number"), payload.get("title") or payload.get("name")) if p)
    parts = [event_label(event.type)]
    if what:
        parts.append(what)
    if event.area_id and getattr(event, "area", None) is not None:
        parts.append(local_name(event.area))
    return {"text": " · ".join(parts), "url": object_url(event.object_ref or "", event.subject_id)}
