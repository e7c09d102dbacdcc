"""Reads of the livelihood wing: facility finder (KNN, radius, open now, clusters), guide, notices, ratings."""

from datetime import datetime

from django.db import connection
from django.db.models import Avg, Count, Q, QuerySet
from django.utils import timezone

from cityos.roles import Role
from cityos.scoping import scope_by_department
from datahub import facade

from .models import (
    Appointment,
    Facility,
    FacilityHoursException,
    FacilityType,
    LifeEvent,
    Notice,
    PublishStatus,
    Rating,
    Service,
)
from .services.facilities import DAYS, is_open

_COLUMNS = (
    "f.id, f.name, f.name_en, f.type, f.address, f.phone, f.area_id, "
    "ST_X(f.point::geometry), ST_Y(f.point::geometry), ST_Distance(f.point, q.g, false)"
)


def _open_now_sql(at: datetime) -> tuple[str, list]:
    """Open at `at` (city time) in SQL: a same-day exception decides alone, else the weekly pattern."""
    local = timezone.localtime(at)
    t, day = local.time().replace(microsecond=0), local.date()
    sql = """
        CASE WHEN ex.id IS NOT NULL
             THEN (NOT ex.closed AND ex.opens <= %s AND %s < ex.closes)
             ELSE (f.always_open OR EXISTS (
                    SELECT 1 FROM jsonb_array_elements(COALESCE(f.hours -> %s, '[]'::jsonb)) iv
                    WHERE (iv ->> 0)::time <= %s AND %s < (iv ->> 1)::time))
        END
    """
    return sql, [t, t, DAYS[local.weekday()], t, t], day


def _type_label(code: str) -> str:
    """A facility type's label in the active language (zh-hans or en), never the bare code."""
    try:
        return str(FacilityType(code).label)
    except ValueError:
        return str(FacilityType.OTHER.label)


def facilities_nearest(
    *,
    lon: float,
    lat: float,
    type: str | None = None,  # noqa: A002
    limit: int = 10,
    radius_m: float | None = None,
    open_now: bool = False,
    area_id: int | None = None,
    at: datetime | None = None,
) -> list[dict]:
    """The `limit` nearest active facilities to (lon, lat), nearest first, with `distance_m` (metres on the
    sphere, as the KNN `<->` operator of the geography GiST index orders them), `lon` and `lat`."""
    where, params = ["f.is_active"], []
    joins, join_params = "", []
    if type:
        where.append("f.type = %s")
        params.append(type)
    if radius_m is not None:
        where.append("ST_DWithin(f.point, q.g, %s, false)")
        params.append(float(radius_m))
    if area_id is not None:
        where.append("f.area_id = ANY(%s)")
        params.append(facade.area_descendant_ids(area_id=area_id))
    if open_now:
        cond, cond_params, day = _open_now_sql(at or timezone.now())
        joins = "LEFT JOIN livelihood_facilityhoursexception ex ON ex.facility_id = f.id AND ex.date = %s"
        join_params = [day]
        where.append(cond)
        params.extend(cond_params)
    sql = f"""
        SELECT {_COLUMNS}
        FROM livelihood_facility f
        CROSS JOIN (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography AS g) q
        {joins}
        WHERE {" AND ".join(where)}
        ORDER BY f.point <-> q.g
        LIMIT %s
    """  # noqa: S608 - only fixed fragments are formatted in; values are parameters
    with connection.cursor() as cur:
        cur.execute(sql, [float(lon), float(lat), *join_params, *params, int(limit)])
        rows = cur.fetchall()
    return [
        {
            "id": r[0],
            "name": r[1],
            "name_en": r[2],
            "type": r[3],
            "type_label": _type_label(r[3]),
            "address": r[4],
            "phone": r[5],
            "area_id": r[6],
            "lon": round(r[7], 7),
            "lat": round(r[8], 7),
            "distance_m": round(r[9], 1),
        }
        for r in rows
    ]


def facility_open_now(facility: Facility, at: datetime | None = None) -> bool:
    at = at or timezone.now()
    exc = FacilityHoursException.objects.filter(facility=facility, date=timezone.localtime(at).date()).first()
    return is_open(hours=facility.hours or {}, always_open=facility.always_open, exception=exc, at=at)


def facilities_open_ids(ids: list[int], at: datetime | None = None) -> set[int]:
    """Which of these facilities are open at `at` (one query)."""
    if not ids:
        return set()
    cond, cond_params, day = _open_now_sql(at or timezone.now())
    sql = f"""
        SELECT f.id FROM livelihood_facility f
        LEFT JOIN livelihood_facilityhoursexception ex ON ex.facility_id = f.id AND ex.date = %s
        WHERE f.id = ANY(%s) AND {cond}
    """  # noqa: S608 - fixed fragment
    with connection.cursor() as cur:
        cur.execute(sql, [day, ids, *cond_params])
        return {r[0] for r in cur.fetchall()}


def facility_clusters(
    *,
    bbox: tuple[float, float, float, float],
    zoom: int,
    type: str | None = None,
    cell_px: int = 60,  # noqa: A002
) -> list[dict]:
    """Server-side clustering for the map: facilities in the box snapped to a grid of ~`cell_px` screen
    pixels at this zoom; a cell of one is returned as the facility itself."""
    zoom = max(0, min(int(zoom), 22))
    cell = 360.0 / (256 * 2**zoom) * cell_px
    where, params = ["f.is_active", "f.point::geometry && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"], list(bbox)
    if type:
        where.append("f.type = %s")
        params.append(type)
    sql = f"""
        SELECT count(*), avg(ST_X(f.point::geometry)), avg(ST_Y(f.point::geometry)),
               min(f.id), min(f.name), min(f.type)
        FROM livelihood_facility f
        WHERE {" AND ".join(where)}
        GROUP BY floor(ST_X(f.point::geometry) / %s), floor(ST_Y(f.point::geometry) / %s)
        LIMIT 2000
    """  # noqa: S608 - fixed fragments
    with connection.cursor() as cur:
        cur.execute(sql, [*params, cell, cell])
        rows = cur.fetchall()
    return [
        {"count": n, "lon": round(x, 6), "lat": round(y, 6), **({"id": i, "name": nm, "type": t} if n == 1 else {})}
        for n, x, y, i, nm, t in rows
    ]


# --- guide ----------------------------------------------------------------------------------------


def services_public() -> QuerySet[Service]:
    return Service.objects.filter(status=PublishStatus.PUBLISHED)


def services_visible_to(user) -> QuerySet[Service]:
    """Staff see their departments' services in every state (city-wide roles: all); others the published ones."""
    if user is not None and user.is_authenticated and getattr(user, "role", None) != Role.CITIZEN:
        return scope_by_department(Service.objects.all(), user) | services_public()
    return services_public()


def service_can_edit(user, service: Service | None = None, department_id: int | None = None) -> bool:
    """Department officers edit their department's services; administrators and leaders any."""
    if user is None or not user.is_authenticated or getattr(user, "role", None) == Role.CITIZEN:
        return False
    if user.is_superuser or user.role in (Role.ADMINISTRATOR, Role.CITY_LEADER):
        return True
    if user.role != Role.DEPARTMENT_OFFICER:
        return False
    from cityos.scoping import can_see_department

    dept = service.department_id if service is not None else department_id
    return dept is not None and can_see_department(user, dept)


def life_event_materials(life_event: LifeEvent) -> list[dict]:
    """The materials of every service of a life event, listed once (by name), with the services needing each."""
    combined: dict[str, dict] = {}
    # .all(): uses a prefetch of steps__service when the caller made one (lists), else one query each.
    for step in life_event.steps.all():
        svc = step.service
        for m in svc.materials or []:
            name = (m.get("name") if isinstance(m, dict) else str(m)).strip()
            key = "".join(name.lower().split())
            if not key:
                continue
            item = combined.setdefault(
                key,
                {
                    "name": name,
                    "name_en": m.get("name_en", "") if isinstance(m, dict) else "",
                    "copies": 0,
                    "services": [],
                },
            )
            item["copies"] = max(item["copies"], int(m.get("copies", 1) if isinstance(m, dict) else 1))
            if svc.code not in item["services"]:
                item["services"].append(svc.code)
    return list(combined.values())


# --- notices --------------------------------------------------------------------------------------


def notices_current(*, area_id: int | None = None, at: datetime | None = None) -> QuerySet[Notice]:
    """Published notices in force at `at` for the city (no areas) and, with `area_id`, for that area or
    one of its ancestors (a district notice reaches its streets)."""
    at = at or timezone.now()
    qs = Notice.objects.filter(status=PublishStatus.PUBLISHED, publish_at__lte=at).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=at)
    )
    if area_id is not None:
        ancestors = [a.id for a in facade.area_ancestors(area_id=area_id)]
        qs = qs.filter(Q(areas__isnull=True) | Q(areas__in=ancestors)).distinct()
    else:
        qs = qs.filter(areas__isnull=True)
    return qs.order_by("-pinned", "-publish_at")


def notices_visible_to(user) -> QuerySet[Notice]:
    if user is not None and user.is_authenticated and getattr(user, "role", None) != Role.CITIZEN:
        return scope_by_department(Notice.objects.all(), user)
    return notices_current()


# --- appointments ---------------------------------------------------------------------------------


def appointments_visible_to(user) -> QuerySet[Appointment]:
    qs = Appointment.objects.select_related("slot", "office", "service")
    if user is None or not user.is_authenticated:
        return qs.none()
    if getattr(user, "role", None) == Role.CITIZEN:
        return qs.filter(citizen=user)
    return scope_by_department(qs, user, field="office__department")


def counter_queue(*, office_id: int, day=None) -> QuerySet[Appointment]:
    day = day or timezone.localdate()
    return (
        Appointment.objects.filter(office_id=office_id, slot__starts_at__date=day)
        .exclude(status="cancelled")
        .select_related("slot", "service")
        .order_by("slot__starts_at", "queue_number", "id")
    )


# --- ratings --------------------------------------------------------------------------------------


def ratings_visible_to(user) -> QuerySet[Rating]:
    qs = Rating.objects.select_related("service")
    if user is None or not user.is_authenticated:
        return qs.none()
    if getattr(user, "role", None) == Role.CITIZEN:
        return qs.filter(citizen=user)
    return scope_by_department(qs, user)


def rating_dashboard(*, qs: QuerySet[Rating]) -> dict:
    """Per department and per service: count, mean, share of good (4–5) and bad (1–2) ratings."""

    def agg(group):
        return list(
            qs.values(*group)
            .annotate(
                n=Count("id"),
                mean=Avg("score"),
                good=Count("id", filter=Q(score__gte=4)),
                bad=Count("id", filter=Q(score__lte=2)),
                unanswered=Count("id", filter=Q(score__lte=2, replied_at__isnull=True)),
            )
            .order_by("-n")[:100]
        )

    totals = qs.aggregate(n=Count("id"), mean=Avg("score"), bad=Count("id", filter=Q(score__lte=2)))
    dist = dict(qs.values_list("score").annotate(c=Count("id")).order_by("score"))
    return {
        "totals": totals,
        "distribution": [dist.get(s, 0) for s in range(1, 6)],
        "by_department": agg(["department_id", "department__name", "department__name_en"]),
        "by_service": agg(["service_id", "service__name", "service__name_en"]),
    }
