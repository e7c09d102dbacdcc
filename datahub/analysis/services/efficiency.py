"""Administrative efficiency per department, read from the event log, the same way for every
family of work items (cases, appeals, appointments, grants...): an item is the events sharing an
`object_ref`; its department the last `payload.department` seen; it starts at its first start
event (received/created/submitted/applied), ends at its first ending event (close/closed/resolve/
completed/approved/rejected); it is late when an `overdue` event was recorded for it, reopened when
a reopen event was; satisfaction is the mean `payload.rating` of its `rated` events."""

from datetime import datetime

from django.db import connection

from datahub.models import Department

FAMILIES = ("case", "appeal", "appointment", "grant", "industry", "livelihood")
STARTS = ("received", "created", "submitted", "applied", "booked", "appeal_submitted")
ENDS = ("close", "closed", "resolve", "resolved", "completed", "approved", "rejected", "reject", "done")
REOPENS = ("reopen", "reopened")


def department_efficiency(*, since: datetime, until: datetime, family: str | None = None) -> list[dict]:
    """[{family, department_id, department, workload, finished, on_time_rate, mean_handling_hours,
    reopen_rate, satisfaction}] for items started in [since, until), ranked by on-time rate."""
    families = [family] if family else list(FAMILIES)
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH ev AS (
                SELECT split_part(type, '.', 1) AS fam,
                       regexp_replace(type, '^[^.]*\\.', '') AS act,
                       object_ref, occurred_at,
                       coalesce(payload->>'department', payload->>'department_id') AS dept,
                       CASE WHEN jsonb_typeof(payload->'rating') = 'number' THEN (payload->>'rating')::float END AS rating
                FROM datahub_event
                WHERE object_ref <> '' AND split_part(type, '.', 1) = ANY(%s)
                  AND occurred_at >= %s AND occurred_at < %s + interval '90 days'
            ), items AS (
                SELECT fam, object_ref,
                       (array_agg(dept ORDER BY occurred_at DESC) FILTER (WHERE dept ~ '^[0-9]+$'))[1]::bigint AS dept,
                       min(occurred_at) FILTER (WHERE act = ANY(%s) OR act LIKE ANY(%s)) AS started,
                       min(occurred_at) FILTER (WHERE act = ANY(%s) OR act LIKE ANY(%s)) AS ended,
                       bool_or(act LIKE '%%overdue') AS late,
                       bool_or(act = ANY(%s)) AS reopened,
                       avg(rating) FILTER (WHERE act LIKE '%%rated') AS rating
                FROM ev GROUP BY fam, object_ref
            )
            SELECT fam, dept, count(*) AS workload,
                   count(*) FILTER (WHERE ended IS NOT NULL) AS finished,
                   count(*) FILTER (WHERE ended IS NOT NULL AND NOT late)::float / nullif(count(*) FILTER (WHERE ended IS NOT NULL), 0),
                   avg(extract(epoch FROM ended - started) / 3600) FILTER (WHERE ended IS NOT NULL),
                   count(*) FILTER (WHERE reopened)::float / count(*),
                   avg(rating)
            FROM items WHERE started >= %s AND started < %s AND dept IS NOT NULL
            GROUP BY fam, dept
            """,
            [
                families,
                since,
                until,
                list(STARTS),
                [f"%_{s}" for s in STARTS],
                list(ENDS),
                [f"%_{s}" for s in ENDS],
                list(REOPENS),
                since,
                until,
            ],
        )
        rows = cur.fetchall()
    names = dict(Department.objects.filter(id__in={r[1] for r in rows}).values_list("id", "name"))
    out = [
        {
            "family": fam,
            "department_id": dept,
            "department": names.get(dept, str(dept)),
            "workload": n,
            "finished": fin,
            "on_time_rate": round(ot, 4) if ot is not None else None,
            "mean_handling_hours": round(h, 2) if h is not None else None,
            "reopen_rate": round(ro, 4),
            "satisfaction": round(sat, 2) if sat is not None else None,
        }
        for fam, dept, n, fin, ot, h, ro, sat in rows
    ]
    out.sort(key=lambda r: (r["family"], -(r["on_time_rate"] if r["on_time_rate"] is not None else -1), -r["workload"]))
    for fam in {r["family"] for r in out}:
        for rank, r in enumerate((r for r in out if r["family"] == fam), start=1):
            r["rank"] = rank
    return out


def efficiency_with_trend(*, since: datetime, until: datetime, family: str | None = None) -> list[dict]:
    """The window's figures with the previous window's on-time rate and workload beside them."""
    prev = {
        (r["family"], r["department_id"]): r
        for r in department_efficiency(since=since - (until - since), until=since, family=family)
    }
    out = department_efficiency(since=since, until=until, family=family)
    for r in out:
        p = prev.get((r["family"], r["department_id"]))
        r["previous_on_time_rate"] = p["on_time_rate"] if p else None
        r["previous_workload"] = p["workload"] if p else None
    return out
