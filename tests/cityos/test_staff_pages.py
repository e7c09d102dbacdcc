"""Staff pages and staff live events are for staff roles only (issue 11, item 6).

Every page is walked from the URLconf itself (not a hand-written list), so a page added later is
covered without editing this test: signed in without a staff role it answers 403, signed out it
redirects to the login page.
"""

import asyncio
import re

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve

from cityos.access import is_role_page
from cityos.asgi import application
from cityos.realtime import publish_broadcast, publish_to_department, publish_to_user
from cityos.roles import STAFF_ROLES, Role
from tests.factories import make_department, make_user

# Pages anyone may open (they show no staff data): the landing page adapts to the user's role;
# the citizen portal is public by design (tests/livelihood covers what it shows to whom).
PUBLIC = {"/", "/health/", "/login/", "/logout/", "/i18n/setlang/", "/governance/track/", "/governance/track/rate/"}
PUBLIC |= {"/manifest.webmanifest", "/sw.js", "/offline/"}  # the installable app's shell: no data
PUBLIC |= {"/map/base.geojson"}  # the city's own base map (areas, roads, public facilities): public data
PUBLIC |= {"/search/"}  # permission-aware search: outsiders find public items only (tests/datahub/search)
PUBLIC_AREAS = ("/portal/", "/developers/")  # the developer portal: sign-up is public (tests/cityos/test_developer_portal.py)
# Not pages: the APIs (their own per-resource rules, see test_access_matrix; NGSI-LD and CKAN
# tests in tests/datahub), Open311 (public by specification), Django admin (its own is_staff
# check), files.
NOT_PAGES = ("/api/", "/open311/", "/admin/", "/media/", "/static/", "/ngsi-ld/", "/ckan/")
NON_STAFF_ROLES = sorted(set(Role) - STAFF_ROLES)


def _sample(pattern: str) -> str:
    """A concrete path for a URL pattern: 1 for every int, `x` for every other converter or group."""
    path = re.sub(r"<int:[^>]+>", "1", pattern)
    path = re.sub(r"<(?:[a-z]+:)?[^>]+>", "x", path)
    path = re.sub(r"\(\?P<[^>]+>[^)]*\)", "x", path)
    return path.replace("^", "").replace("$", "").replace("\\", "")


def all_paths() -> list[str]:
    out = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                out.append("/" + _sample(prefix + str(p.pattern)))

    walk(get_resolver().url_patterns, "")
    return sorted(set(out))


STAFF_PAGES = [p for p in all_paths() if p not in PUBLIC and not p.startswith(NOT_PAGES + PUBLIC_AREAS)]
# A non-staff role's own pages (cityos.access.ROLE_PAGE_MODULES: an enterprise user's industry
# pages) are not staff pages for that role: their views check its rights (tests/industry).


def _role_page(role: str, path: str) -> bool:
    try:
        return is_role_page(role, resolve(path).func)
    except Resolver404:
        return False


ROLE_CHECKS = [(path, role) for path in STAFF_PAGES for role in NON_STAFF_ROLES if not _role_page(role, path)]


def test_the_walk_finds_the_staff_pages_of_every_area():
    for expected in ("/governance/cases/1/", "/datahub/entities/", "/monitoring/rules/", "/datahub/text/opinion/"):
        assert expected in STAFF_PAGES
    assert len(STAFF_PAGES) > 50


@pytest.mark.django_db
@pytest.mark.parametrize("path, role", ROLE_CHECKS)
def test_a_non_staff_role_gets_403_on_every_staff_page(client, role, path):
    client.force_login(make_user(role=role))
    assert client.get(path).status_code == 403, path
    assert client.post(path, {}).status_code == 403, path


@pytest.mark.django_db
@pytest.mark.parametrize("path", STAFF_PAGES)
def test_an_anonymous_visitor_is_sent_to_the_login_page_from_every_staff_page(client, path):
    resp = client.get(path)
    assert resp.status_code == 302 and resp["Location"].startswith("/login/"), path


@pytest.mark.django_db
def test_the_home_page_shows_a_developer_no_operations_and_staff_the_dashboard(client):
    client.force_login(make_user(role=Role.EXTERNAL_DEVELOPER))
    page = client.get("/").content.decode()
    assert 'id="external-home"' in page and 'id="live-feed"' not in page
    client.force_login(make_user(role=Role.ANALYST))
    assert 'id="live-feed"' in client.get("/").content.decode()


# --- live events over the WebSocket -------------------------------------------------------------


def _headers(client, user):
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return [(b"cookie", cookie.encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")]


@pytest.mark.django_db(transaction=True)
def test_a_developer_socket_gets_its_own_events_but_no_staff_live_events(client):
    dept = make_department()
    developer = make_user(role=Role.EXTERNAL_DEVELOPER, department=dept)
    officer = make_user(role=Role.DEPARTMENT_OFFICER, department=dept)
    # Two browsers: signing the officer in on the developer's client would end the developer's session.
    dev_headers, officer_headers = _headers(client, developer), _headers(Client(), officer)

    async def scenario():
        dev = WebsocketCommunicator(application, "/ws/live/", headers=dev_headers)
        staff = WebsocketCommunicator(application, "/ws/live/", headers=officer_headers)
        assert (await dev.connect())[0] and (await staff.connect())[0]
        await dev.receive_json_from(timeout=20)  # hello
        await staff.receive_json_from(timeout=20)
        await sync_to_async(publish_broadcast)("alert.changed", {"id": 1})
        await sync_to_async(publish_to_department)(dept.id, "case.dispatched", {"tracking_number": "BJ-1"})
        await sync_to_async(publish_to_user)(developer.id, "datahub.dataset_import", {"id": 7})
        got_staff = [await staff.receive_json_from(timeout=20) for _ in range(2)]
        got_dev = await dev.receive_json_from(timeout=20)
        nothing_more = await dev.receive_nothing(timeout=0.5)
        await dev.disconnect()
        await staff.disconnect()
        return got_staff, got_dev, nothing_more

    got_staff, got_dev, nothing_more = asyncio.run(scenario())
    assert {m["event"] for m in got_staff} == {"alert.changed", "case.dispatched"}
    assert got_dev == {"event": "datahub.dataset_import", "data": {"id": 7}}
    assert nothing_more
