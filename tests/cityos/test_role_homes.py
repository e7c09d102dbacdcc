"""Each role's home page answers "what needs me now" (issue 18, item 1), its menu lists what the
role uses (the rest under "More pages"), and the admin is CityOS's, grouped by capability."""

import re

import pytest
from django.test import Client

from cityos.home import sparkline
from cityos.navigation import MENUS
from cityos.roles import Role
from governance.models import DispatchCentre
from tests.demo_snapshot import demo_city
from tests.factories import make_department, make_user

pytestmark = pytest.mark.django_db

# What each demo login's home must show (data-kpi keys), and the page title, in Chinese.
EXPECTED = {
    "leader": (
        "城市运行一览",
        {"cases-today", "overdue", "on-time", "satisfaction", "alerts", "opinion", "sensors-offline"},
    ),
    "officer": ("本部门待办", {"new", "due-soon", "overdue", "reopened"}),
    "hotline": ("12345热线受理台", {"calls-today", "mine-today", "triage", "returned"}),
    "grid": ("我的网格", {"grid-open", "tasks", "reports-today"}),
    "analyst": ("数据、舆情与趋势", {"datasets", "opinion", "negative", "events", "situations"}),
    "admin": ("系统状态", {"health", "imports-running", "failed-jobs", "webhooks"}),
}
PERSONA = {
    "leader": "city_leader",
    "officer": "department_officer",
    "hotline": "hotline_operator",
    "grid": "grid_worker",
    "analyst": "analyst",
    "admin": "administrator",
}


def _menu_keys(html: str) -> list[str]:
    menu = html.split('class="nav-menu"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'data-nav="([^"]+)"', menu)


def test_every_role_gets_its_own_home_and_menu_with_the_demo_city():
    demo_city()
    from django.contrib.auth import get_user_model

    for username, (title, kpis) in EXPECTED.items():
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        resp = client.get("/")
        html = resp.content.decode()
        assert resp.status_code == 200, username
        assert f'<h1 id="page-title">{title}</h1>' in html, username
        assert set(re.findall(r'data-kpi="([^"]+)"', html)) == kpis, username
        # The menu is the persona's own, in its order (entries whose page is missing drop out).
        menu = _menu_keys(html)
        assert menu == [k for k in MENUS[PERSONA[username]] if k in menu], username
        assert menu[0] == "home" and len(menu) <= 12, username
        # Every other page the role may open stays one click away.
        assert 'id="nav-more"' in html, username
        assert 'id="live-feed"' in html, username
    leader = Client()
    leader.force_login(get_user_model().objects.get(username="leader"))
    html = leader.get("/").content.decode()
    assert 'href="/cockpit/"' in html and 'id="home-map-data"' in html
    assert "<polyline points=" in html  # sparklines are drawn server-side
    grid = Client()
    grid.force_login(get_user_model().objects.get(username="grid"))
    html = grid.get("/").content.decode()
    assert 'id="report-problem" href="/governance/patrol/"' in html
    assert 'id="home-grid-cases"' in html and 'id="home-tasks"' in html
    assert _menu_keys(html)[:2] == ["home", "gov-patrol"]


def test_a_department_officer_of_a_dispatch_centre_is_a_hotline_operator():
    hotline, urban = make_department(code="hl", name="12345"), make_department(code="um", name="城管")
    DispatchCentre.objects.create(department=hotline)
    from governance.services.refcache import refcache_reset_all

    refcache_reset_all()
    client = Client()
    client.force_login(make_user(role=Role.DEPARTMENT_OFFICER, department=hotline))
    html = client.get("/").content.decode()
    assert 'id="new-call" href="/governance/intake/"' in html
    assert _menu_keys(html)[:2] == ["home", "gov-intake"]
    client.force_login(make_user(role=Role.DEPARTMENT_OFFICER, department=urban))
    html = client.get("/").content.decode()
    assert 'id="new-call"' not in html and "gov-intake" not in _menu_keys(html)
    assert 'data-nav="gov-intake"' in html  # still reachable under "More pages"


def test_the_home_counts_only_what_the_officer_may_see(client):
    from django.utils import timezone

    from governance.models import Case

    mine, other = make_department(code="a", name="甲"), make_department(code="b", name="乙")
    now = timezone.now()
    for i, dept in enumerate((mine, mine, other)):
        Case.objects.create(
            tracking_number=f"T-{i}",
            channel="api",
            title=f"案件{i}",
            created_at=now,
            department=dept,
            status="dispatched",
            due_at=now - timezone.timedelta(hours=1),
        )
    client.force_login(make_user(role=Role.DEPARTMENT_OFFICER, department=mine))
    home = client.get("/").context["home"]
    counts = {k["key"]: k["value"] for k in home["kpis"]}
    assert counts["new"] == 2 and counts["overdue"] == 2
    assert {c["tracking_number"] for c in home["queue"]["cases"]} == {"T-0", "T-1"}


def test_a_sparkline_scales_a_series_into_its_box_and_skips_missing_days():
    assert sparkline([]) == "" and sparkline([5]) == ""
    points = sparkline([0, None, 10])
    assert points == "0.0,26.0 100.0,2.0"


def test_the_admin_is_cityos_with_models_grouped_by_capability(client):
    admin = make_user(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client.force_login(admin)
    html = client.get("/admin/").content.decode()
    assert "城市操作系统管理" in html
    for group in ("人员与权限", "案件", "派单、网格与时限", "物联网设备与观测", "监测与告警"):
        assert group in html, group
    app_list = client.get("/admin/").context["app_list"]
    names = [str(g["name"]) for g in app_list]
    assert names.index("人员与权限") < names.index("案件")
    people = next(g for g in app_list if str(g["name"]) == "人员与权限")
    assert {m["object_name"] for m in people["models"]} >= {"User", "Group", "Department"}
    # The most used lists search and filter.
    for url in (
        "/admin/governance/case/?q=x&status__exact=received",
        "/admin/governance/gridassignment/?q=x",
        "/admin/cityos/eventsubscription/?q=x&application__isempty=1",
        "/admin/cityos/user/?q=x&role__exact=grid_worker",
    ):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert 'id="searchbar"' in resp.content.decode(), url


def test_the_app_manifest_and_service_worker_are_served_by_the_site(client):
    manifest = client.get("/manifest.webmanifest")
    assert manifest.status_code == 200 and manifest["Content-Type"] == "application/manifest+json"
    data = manifest.json()
    assert data["display"] == "standalone" and data["start_url"] == "/"
    assert {"192x192", "512x512"} <= {i["sizes"] for i in data["icons"]}
    for icon in data["icons"]:
        assert client.get(icon["src"]).status_code == 200, icon
    sw = client.get("/sw.js")
    assert sw.status_code == 200 and sw["Content-Type"] == "application/javascript"
    assert sw["Service-Worker-Allowed"] == "/" and "/static/cityos/app.css" in sw.content.decode()
    assert client.get("/offline/").status_code == 200


def test_the_home_and_menu_read_in_english_too(client):
    client.force_login(make_user(role=Role.GRID_WORKER))
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get("/").content.decode()
    assert '<h1 id="page-title">My grid today</h1>' in html
    assert 'data-nav="gov-patrol">Patrol</a>' in html and "More pages" in html
    assert "none assigned yet" in html  # no grid yet: said so, not an empty list


def test_an_event_type_reads_as_words_on_the_analysts_home():
    from cityos.home import event_type_label

    label = event_type_label("case.created")
    assert label and "." not in label and "_" not in event_type_label("alert.raised_high")
