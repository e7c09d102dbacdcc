import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_it_redirects_anonymous_visitors_to_login(client):
    resp = client.get("/")
    assert resp.status_code == 302
    assert resp["Location"].startswith("/login/")


def test_it_logs_in_and_shows_the_dashboard_in_chinese_by_default(client, user):
    resp = client.post("/login/", {"username": user.username, "password": PASSWORD}, follow=True)
    html = resp.content.decode()
    assert resp.status_code == 200
    assert "本部门待办" in html  # a department officer's home: their department's queue
    assert 'id="home-kpis"' in html


def test_it_switches_to_english(client, user):
    client.force_login(user)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get("/").content.decode()
    assert "My department&#x27;s work" in html
    assert "本部门待办" not in html


def test_it_serves_front_end_libraries_locally(client):
    for path in ("/static/vendor/htmx.min.js", "/static/vendor/echarts.min.js", "/static/vendor/leaflet/leaflet.js"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert len(b"".join(resp.streaming_content)) > 10_000


def test_it_logs_out(client, user):
    client.force_login(user)
    resp = client.post("/logout/")
    assert resp.status_code == 302
    assert client.get("/").status_code == 302
