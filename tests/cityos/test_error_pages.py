"""Issue 11, item 7: no debug pages in the demo; the project's own 400/403/404/500 pages in both
languages, in the shell; the API answers its JSON errors even where no route matches."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cityos.roles import Role
from tests.factories import make_user
from tests.helpers import child_database_url, free_port

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _debug_of(settings_module: str, **env) -> str:
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", "from django.conf import settings; print(settings.DEBUG)"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in ("DEBUG", "CITYOS_DEBUG")},
            **env,
            "DJANGO_SETTINGS_MODULE": settings_module,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_the_demo_settings_run_without_debug_unless_a_developer_asks():
    assert _debug_of("cityos.settings.local") == "False"
    assert _debug_of("cityos.settings.local", CITYOS_DEBUG="1") == "True"


@pytest.mark.parametrize(("language", "heading"), [("zh-hans", "页面不存在"), ("en", "Page not found")])
def test_an_unknown_page_gets_the_projects_404_in_both_languages(client, language, heading):
    client.cookies["django_language"] = language
    resp = client.get("/no-such-page/")
    body = resp.content.decode()
    assert resp.status_code == 404
    assert heading in body and 'class="topbar"' in body and 'data-status="404"' in body


def test_a_forbidden_page_gets_the_projects_403(client):
    client.force_login(make_user(role=Role.EXTERNAL_DEVELOPER))
    resp = client.get("/governance/cases/")
    assert resp.status_code == 403
    assert "无权访问" in resp.content.decode() and 'class="topbar"' in resp.content.decode()


@pytest.mark.urls("tests.cityos.urls_errors")
def test_a_crash_gets_the_projects_500_without_details(client):
    client.raise_request_exception = False
    resp = client.get("/boom/")
    body = resp.content.decode()
    assert resp.status_code == 500
    assert "出错了" in body and 'class="topbar"' in body
    assert "hunter2" not in body and "Traceback" not in body


@pytest.mark.urls("tests.cityos.urls_errors")
def test_a_bad_request_gets_the_projects_400(client):
    resp = client.get("/bad/")
    assert resp.status_code == 400 and "请求无效" in resp.content.decode()


@pytest.mark.urls("tests.cityos.urls_errors")
def test_the_api_answers_json_for_unknown_paths_and_crashes(client):
    resp = client.get("/api/v1/no-such-operation/")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    client.raise_request_exception = False
    resp = client.get("/api/v1/boom/")
    assert resp.status_code == 500 and resp.json()["error"]["code"] == "server_error"
    assert "hunter2" not in resp.content.decode()


def _fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - our own local server
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_demo_server_serves_static_files_and_no_debug_page():
    """`python -m cityos.serve` with the demo's settings, as `./run demo` starts it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "CITYOS_DEBUG")}
    env.update(DATABASE_URL=child_database_url(), DJANGO_SETTINGS_MODULE="cityos.settings.local")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "cityos.serve", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = _fetch(f"http://127.0.0.1:{port}/no-such-page/")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        assert status == 404
        assert 'data-status="404"' in body and "DEBUG = True" not in body and "URLconf" not in body
        status, css = _fetch(f"http://127.0.0.1:{port}/static/cityos/app.css")
        assert status == 200 and ".card" in css
    finally:
        proc.terminate()
        proc.wait(timeout=30)
