import csv
import io

import pytest

from cityos.roles import Role
from governance.models import GridAssignment
from governance.selectors.efficiency import efficiency_by_department
from governance.services.cases import case_create, case_rate, case_transition
from governance.services.errors import CaseError
from governance.services.grids import grid_assign, grid_patrol_report
from tests.factories import make_user
from tests.governance.factories import local

pytestmark = pytest.mark.django_db


def test_a_patrol_report_becomes_a_case_in_the_workers_grid(city):
    grid_assign(grid_id=city.grid1.id, worker=city.grid_worker)
    case = grid_patrol_report(
        worker=city.grid_worker, title="井盖缺失", description="路口井盖丢失", lon=city.P1[0], lat=city.P1[1]
    )
    assert case.channel == "grid" and case.grid_id == city.grid1.id and case.reporter_user_id == city.grid_worker.id


def test_a_patrol_report_outside_the_workers_grids_is_refused(city):
    grid_assign(grid_id=city.grid1.id, worker=city.grid_worker)
    with pytest.raises(CaseError):
        grid_patrol_report(worker=city.grid_worker, title="井盖缺失", lon=city.P2[0], lat=city.P2[1])


def test_only_grid_workers_are_assigned_to_grids(city):
    with pytest.raises(CaseError):
        grid_assign(grid_id=city.grid1.id, worker=city.officer)
    with pytest.raises(CaseError):
        grid_assign(grid_id=city.street.id, worker=make_user(role=Role.GRID_WORKER))
    assert not GridAssignment.objects.exists()


def _resolve(city, case, officer, at, rating=None):
    case_transition(case_id=case.id, action="accept", actor=officer, now=at)
    case_transition(case_id=case.id, action="resolve", actor=officer, note="ok", now=at)
    if rating:
        case_rate(tracking_number=case.tracking_number, rating=rating, now=at)


def test_it_ranks_departments_by_efficiency(city):
    t0 = local(2026, 11, 23, 9, 0)
    for _ in range(2):  # urban: resolved within an hour, rated 5
        c = case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1], now=t0)
        _resolve(city, c, city.officer, local(2026, 11, 23, 10, 0), rating=5)
    late = case_create(channel="api", title="噪音", lon=121.0, lat=31.0, now=t0)  # env: resolved late
    _resolve(city, late, city.env_officer, local(2026, 12, 20, 10, 0))
    unhappy = case_create(channel="api", title="噪音", lon=121.0, lat=31.0, now=t0)  # env: rated 1, reopened
    _resolve(city, unhappy, city.env_officer, local(2026, 11, 23, 10, 0), rating=1)
    rows = efficiency_by_department(start=local(2026, 11, 1), end=local(2026, 12, 1), now=local(2026, 12, 21))
    assert [r["department_id"] for r in rows] == [city.urban.id, city.env.id]
    urban, env = rows
    assert urban["received"] == 2 and urban["on_time_rate"] == 1.0 and urban["mean_hours_to_accept"] == 1.0
    assert urban["satisfaction"] == 5.0 and urban["rank"] == 1
    assert env["received"] == 2 and env["resolved"] == 1 and env["on_time_rate"] == 0.0
    # Overdue: the late resolution, and the reopened case whose new deadline passed by Dec 21.
    assert env["overdue"] == 2 and env["reopen_rate"] == 0.5 and env["satisfaction"] == 1.0


def test_it_exports_efficiency_as_csv(client, city):
    c = case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    _resolve(city, c, city.officer, c.created_at)
    client.force_login(make_user(role=Role.CITY_LEADER))
    resp = client.get("/governance/efficiency/export.csv", {"start": "2000-01-01", "end": "2100-01-01"})
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0]["department"] == city.urban.name and rows[0]["received"] == "1"
