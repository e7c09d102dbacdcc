"""The cross-department access matrix (issue 11, item 4): role × resource × action, for an object of
the role's own department and of another department, against the real database and the real API.

One world (three departments with a device, an entity, an alert rule, an alert, a case and a case
event each) is built once per module; every check runs in its own transaction, so writes (PATCH,
DELETE, ingest) are rolled back and never change what the next check sees. Expectations are
written out per role below, as the README states the rules, not derived from the code under test.
"""

import json
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from cityos.roles import Role
from datahub.models import Alert
from governance.models import Case, DispatchCentre
from tests.datahub.core.factories import make_entity, make_event
from tests.datahub.iot.factories import make_device
from tests.datahub.monitoring.factories import make_rule
from tests.factories import make_department, make_user

ROLES = ["leader", "officer", "envofficer", "hotline", "grid", "analyst", "admin", "developer"]
ROLE_OF = {
    "leader": Role.CITY_LEADER,
    "officer": Role.DEPARTMENT_OFFICER,
    "envofficer": Role.DEPARTMENT_OFFICER,
    "hotline": Role.DEPARTMENT_OFFICER,
    "grid": Role.GRID_WORKER,
    "analyst": Role.ANALYST,
    "admin": Role.ADMINISTRATOR,
    "developer": Role.EXTERNAL_DEVELOPER,
}
# Departments: A (urban management: officer, grid worker), B (environment: envofficer), H (the
# 12345 hotline, a dispatch centre). Roles without a department compare A ("own") with B.
HOME = {"officer": "A", "grid": "A", "envofficer": "B", "hotline": "H"}
CITY = {"leader", "analyst", "admin"}
OFFICERS = {"officer", "envofficer", "hotline"}
STAFF = set(ROLES) - {"developer"}
DISPATCHERS = {"admin", "leader", "hotline"}


def own_and_other(role: str) -> dict[str, str]:
    home = HOME.get(role, "A")
    return {"own": home, "other": "B" if home != "B" else "A"}


# --- expected answers (the rules as documented) -------------------------------------------------


def scoped_view(role, scope):  # devices, datastreams, device entities, events, rules, alerts
    return role in CITY or (role in STAFF and scope == "own")


def device_manage(role, scope):  # edit, rotate a secret, ingest with a token
    return role == "admin" or (role in OFFICERS and scope == "own")


def entity_change(role, scope):  # curators: city-wide ones anywhere, officers their department's
    return role in {"admin", "analyst"} or (role in OFFICERS and scope == "own")


def rule_manage(role, scope):  # monitoring managers within their departments
    return role in {"admin", "leader"} or (role in OFFICERS and scope == "own")


def case_view(role, scope):
    return role in DISPATCHERS | {"analyst"} or (role in {"officer", "envofficer", "grid"} and scope == "own")


def reporter_unmasked(role, scope):  # only the roles that handle the case
    return role in DISPATCHERS or (role in {"officer", "envofficer"} and scope == "own")


def staff_only(role, scope):
    return role in STAFF


def admin_only(role, scope):
    return role == "admin"


# --- the world --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)  # a run that died mid-setup left rows
        depts = {k: make_department(name=f"部门{k}", code=f"matrix-{k}") for k in "ABH"}
        DispatchCentre.objects.create(department=depts["H"])
        users = {
            name: make_user(role=ROLE_OF[name], department=depts[HOME[name]] if name in HOME else None)
            for name in ROLES
        }
        objs = {}
        now = timezone.now()
        for k, d in depts.items():
            device, streams, _ = make_device(owner_department_id=d.id, key=f"matrix-dev-{k}")
            entity = make_entity(name=f"设施{k}", department=d)
            rule = make_rule(name=f"rule {k}", department_id=d.id)
            alert = Alert.objects.create(
                rule=rule, subject_key=f"s-{k}", department=d, severity="major", title="PM2.5", raised_at=now
            )
            case = Case.objects.create(
                tracking_number=f"MX-{k}-{d.id}",
                channel="api",
                title=f"噪音 {k}",
                created_at=now,
                department=d,
                reporter_name="张三",
                reporter_phone="13800138000",
                reporter_email="zhang@example.com",
            )
            event = make_event(
                type="case.created",
                department=d,
                object_ref=f"governance:case:{case.id}",
                payload={"tracking_number": case.tracking_number},
            )
            objs[k] = {
                "dept": d,
                "device": device,
                "stream": streams["pm25"],
                "entity": entity,
                "rule": rule,
                "alert": alert,
                "case": case,
                "event": event,
            }
    yield {"users": users, "objs": objs}
    # The world was committed outside the tests' transactions: leave the database empty, as the
    # next module's tests expect it.
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


def allowed(resp) -> bool:
    if 200 <= resp.status_code < 300:
        return True
    if resp.status_code in (403, 404):
        return False
    raise AssertionError(f"unexpected {resp.status_code}: {resp.content[:300]!r}")


def permitted(resp) -> bool:
    """Past the authorization check: 2xx, or a 400/409 about the input or the state."""
    return resp.status_code in (400, 409) or allowed(resp)


def event_total(client) -> int:
    resp = client.get(f"{D}/events/counts/?group=type&type=case.created&bucket=month")
    assert resp.status_code == 200, resp.content[:300]
    return sum(r["count"] for r in resp.json()["results"])


def ids_of(resp, key="id") -> set:
    assert resp.status_code in (200, 403), resp.content[:300]
    if resp.status_code == 403:
        return set()
    return {row[key] for row in resp.json()["results"]}


D = "/api/v1/datahub"
G = "/api/v1/governance"
T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC).isoformat()


# (resource, action, check(client, o) -> bool, expected(role, scope))
CHECKS = [
    ("devices", "list", lambda c, o: o["device"].id in ids_of(c.get(f"{D}/devices/?page_size=1000")), scoped_view),
    ("devices", "retrieve", lambda c, o: allowed(c.get(f"{D}/devices/{o['device'].id}/")), scoped_view),
    (
        "devices",
        "update",
        lambda c, o: allowed(c.patch(f"{D}/devices/{o['device'].id}/", {"model": "X2"}, format="json")),
        device_manage,
    ),
    (
        "devices",
        "rotate-credential",
        lambda c, o: allowed(c.post(f"{D}/devices/{o['device'].id}/rotate-credential/")),
        device_manage,
    ),
    (
        "datastreams",
        "list",
        lambda c, o: o["stream"].id in ids_of(c.get(f"{D}/datastreams/?page_size=1000")),
        scoped_view,
    ),
    ("datastreams", "series", lambda c, o: allowed(c.get(f"{D}/datastreams/{o['stream'].id}/series/")), scoped_view),
    (
        "observations",
        "ingest",
        lambda c, o: allowed(
            c.post(
                f"{D}/observations/ingest/",
                json.dumps([{"datastream": o["stream"].id, "time": T0, "value": 1}]),
                content_type="application/json",
            )
        ),
        device_manage,
    ),
    (
        "entities",
        "list (device)",
        lambda c, o: o["device"].entity_id in ids_of(c.get(f"{D}/entities/?type=device&page_size=1000")),
        scoped_view,
    ),
    (
        "entities",
        "retrieve (device)",
        lambda c, o: allowed(c.get(f"{D}/entities/{o['device'].entity_id}/")),
        scoped_view,
    ),
    (
        "entities",
        "update",
        lambda c, o: allowed(c.patch(f"{D}/entities/{o['entity'].id}/", {"name_en": "Renamed"}, format="json")),
        entity_change,
    ),
    (
        "entities",
        "split",
        # Splitting an entity that was never merged is refused as bad input (400) once permitted.
        lambda c, o: permitted(c.post(f"{D}/entities/{o['entity'].id}/split/", {}, format="json")),
        entity_change,
    ),
    (
        "events",
        "list",
        lambda c, o: o["event"].id in ids_of(c.get(f"{D}/events/?type=case.created&page_size=1000")),
        scoped_view,
    ),
    (
        "events",
        "counts (all three departments)",
        lambda c, o: event_total(c) == 3,
        lambda r, s: r in CITY,
    ),
    (
        "alert-rules",
        "list",
        lambda c, o: o["rule"].id in ids_of(c.get(f"{D}/alert-rules/?page_size=1000")),
        scoped_view,
    ),
    ("alert-rules", "retrieve", lambda c, o: allowed(c.get(f"{D}/alert-rules/{o['rule'].id}/")), scoped_view),
    (
        "alert-rules",
        "create",
        lambda c, o: allowed(
            c.post(
                f"{D}/alert-rules/",
                {
                    "name": "matrix",
                    "kind": "threshold",
                    "metric": "pm25",
                    "severity": "minor",
                    "params": {"op": ">", "threshold": 1, "duration_s": 0},
                    "department": o["dept"].id,
                },
                format="json",
            )
        ),
        rule_manage,
    ),
    (
        "alert-rules",
        "update",
        lambda c, o: allowed(c.patch(f"{D}/alert-rules/{o['rule'].id}/", {"description": "x"}, format="json")),
        rule_manage,
    ),
    ("alert-rules", "delete", lambda c, o: allowed(c.delete(f"{D}/alert-rules/{o['rule'].id}/")), rule_manage),
    (
        "alert-rules",
        "create city-wide",
        lambda c, o: allowed(
            c.post(
                f"{D}/alert-rules/",
                {
                    "name": "city",
                    "kind": "threshold",
                    "metric": "pm25",
                    "severity": "minor",
                    "params": {"op": ">", "threshold": 1, "duration_s": 0},
                },
                format="json",
            )
        ),
        admin_only,
    ),
    (
        "alerts",
        "list",
        lambda c, o: o["alert"].id in ids_of(c.get(f"{D}/alerts/?page_size=1000&status=active")),
        scoped_view,
    ),
    ("alerts", "retrieve", lambda c, o: allowed(c.get(f"{D}/alerts/{o['alert'].id}/")), scoped_view),
    ("alerts", "acknowledge", lambda c, o: allowed(c.post(f"{D}/alerts/{o['alert'].id}/acknowledge/")), scoped_view),
    ("ingest-batches", "summary", lambda c, o: allowed(c.get(f"{D}/ingest-batches/summary/")), staff_only),
    ("ingest-batches", "list", lambda c, o: allowed(c.get(f"{D}/ingest-batches/")), lambda r, s: r in CITY),
    ("runs", "list", lambda c, o: allowed(c.get(f"{D}/runs/")), staff_only),
    ("sources", "list", lambda c, o: allowed(c.get(f"{D}/sources/")), staff_only),
    ("webhooks", "list", lambda c, o: allowed(c.get(f"{D}/webhooks/")), admin_only),
    ("webhook-deliveries", "list", lambda c, o: allowed(c.get(f"{D}/webhook-deliveries/")), admin_only),
    ("documents", "list", lambda c, o: allowed(c.get(f"{D}/documents/")), staff_only),
    ("cases", "list", lambda c, o: o["case"].id in ids_of(c.get(f"{G}/cases/?page_size=1000")), case_view),
    ("cases", "retrieve", lambda c, o: allowed(c.get(f"{G}/cases/{o['case'].id}/")), case_view),
    (
        "cases",
        "reporter shown",
        lambda c, o: (
            (r := c.get(f"{G}/cases/{o['case'].id}/")).status_code == 200
            and r.json()["reporter_phone"] == "13800138000"
        ),
        reporter_unmasked,
    ),
    (
        "cases",
        "unmask reporter",
        lambda c, o: allowed(c.post(f"{G}/cases/{o['case'].id}/reporter/", {"reason": "call back"}, format="json")),
        lambda r, s: case_view(r, s) and r in STAFF,
    ),
    ("dispatch-rules", "list", lambda c, o: allowed(c.get(f"{G}/dispatch-rules/")), staff_only),
    ("personal-data-access", "list", lambda c, o: allowed(c.get(f"{G}/personal-data-access/")), admin_only),
]


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["own", "other"])
@pytest.mark.parametrize(("resource", "action", "check", "expected"), CHECKS, ids=[f"{r}:{a}" for r, a, *_ in CHECKS])
@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(world, role, resource, action, check, expected, scope):
    client = APIClient()
    client.force_authenticate(world["users"][role])
    objects = world["objs"][own_and_other(role)[scope]]
    assert check(client, objects) == expected(role, scope), f"{role} {action} {resource} of {scope} department"
