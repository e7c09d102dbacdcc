"""The developer portal: sign-up with e-mail verification, approval, applications, keys shown once,
usage chart and CSV, event subscriptions; and the monthly usage report."""

import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from cityos.api import keys, reports
from cityos.developers import services
from cityos.models import ApiApplication, ApiKey, ApiUsage, DeveloperOrganisation, EventSubscription
from cityos.roles import Role
from tests.factories import make_user

PASSWORD = "a-long-password-1"


def _signup(client, username="dev1", org="Acme 数据", email="dev1@example.org"):
    return client.post(
        "/developers/signup/",
        {"username": username, "email": email, "password": PASSWORD, "organisation": org, "website": ""},
    )


def _link():
    return re.search(r"http://testserver(/developers/verify/\S+/)", mail.outbox[-1].body).group(1)


def test_signup_sends_a_verification_link_that_activates_the_account(client, db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = _signup(client)
    assert r.status_code == 200 and "dev1@example.org" in r.content.decode()
    user = ApiApplication._meta.get_field("owner").related_model.objects.get(username="dev1")
    assert not user.is_active and user.role == Role.EXTERNAL_DEVELOPER
    org = DeveloperOrganisation.objects.get(name="Acme 数据")
    assert not org.is_approved and list(org.members.all()) == [user]
    assert client.login(username="dev1", password=PASSWORD) is False  # not before verification
    r = client.get(_link())
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.is_active
    page = client.get("/developers/").content.decode()
    assert 'id="awaiting-approval"' in page
    assert client.get("/developers/verify/garbage/").status_code == 400


def test_signup_refuses_taken_names_with_the_field_named(client, db):
    make_user(username="taken")
    r = _signup(client, username="taken")
    assert r.status_code == 200 and 'role="alert"' in r.content.decode()
    assert not DeveloperOrganisation.objects.exists()


def _approved_developer(client):
    user = make_user(role=Role.EXTERNAL_DEVELOPER, password=PASSWORD)
    org = DeveloperOrganisation.objects.create(
        name=f"org-{user.username}", contact_email="o@example.org", is_approved=True
    )
    org.members.add(user)
    client.force_login(user)
    return user, org


def test_a_developer_registers_an_application_creates_a_key_shown_once_and_uses_it(client, db):
    user, org = _approved_developer(client)
    r = client.post("/developers/applications/new/", {"name": "Air app", "description": ""})
    app = ApiApplication.objects.get(name="Air app")
    assert r.status_code == 302 and app.owner == user and app.organisation == org
    r = client.post(f"/developers/applications/{app.id}/keys/", {"name": "prod", "scopes": ["account:read"]})
    page = client.get(f"/developers/applications/{app.id}/").content.decode()
    text = re.search(r'<pre id="new-key">(cos_\w+_[\w-]+)</pre>', page).group(1)
    assert ApiKey.objects.get(application=app).secret_hash != text
    again = client.get(f"/developers/applications/{app.id}/").content.decode()
    assert text not in again  # shown once
    keys._cache.clear()
    client.logout()
    assert client.get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Api-Key {text}").status_code == 200
    client.force_login(user)
    csv_text = client.get(f"/developers/applications/{app.id}/usage.csv").content.decode()
    assert "GET api/v1/auth/me/,200,1" in csv_text
    assert 'id="usage-chart"' in client.get(f"/developers/applications/{app.id}/").content.decode()


def test_a_developer_sees_only_their_own_applications(client, db):
    _user, org = _approved_developer(client)
    other = make_user(role=Role.EXTERNAL_DEVELOPER)
    other_org = DeveloperOrganisation.objects.create(name="other", contact_email="x@example.org", is_approved=True)
    other_org.members.add(other)
    other_app = services.application_create(user=other, organisation=other_org, name="theirs")
    assert client.get(f"/developers/applications/{other_app.id}/").status_code == 404
    assert client.get(f"/developers/applications/{other_app.id}/usage.csv").status_code == 404
    assert "theirs" not in client.get("/developers/").content.decode()


def test_a_developer_subscribes_to_events_and_sees_the_delivery_log(client, db):
    user, org = _approved_developer(client)
    app = services.application_create(user=user, organisation=org, name="hooks")
    r = client.post(
        f"/developers/applications/{app.id}/subscriptions/",
        {"name": "datasets", "url": "http://127.0.0.1:9/hook", "events": ["dataset.updated"], "min_severity": ""},
    )
    assert r.status_code == 302
    sub = EventSubscription.objects.get(application=app)
    page = client.get(f"/developers/applications/{app.id}/").content.decode()
    assert sub.secret in page  # the signing secret, once
    assert sub.secret not in client.get(f"/developers/applications/{app.id}/").content.decode()
    client.post(f"/developers/applications/{app.id}/subscriptions/{sub.id}/test/")
    log = client.get(f"/developers/applications/{app.id}/subscriptions/{sub.id}/").content.decode()
    assert "subscription.test" in log


def test_guides_show_curl_and_python_per_family_and_link_the_openapi_reference(client, db):
    page = client.get("/developers/guides/").content.decode()
    for family in ("datasets", "ckan", "ngsi-ld", "iot", "search", "events"):
        assert f'id="guide-{family}"' in page
    assert "curl" in page and "import requests" in page.replace("import os, requests", "import requests")
    assert 'href="/api/docs/"' in page


def test_the_monthly_report_writes_csv_and_html_per_organisation_and_emails_it(db, tmp_path):
    user = make_user(role=Role.EXTERNAL_DEVELOPER)
    org = DeveloperOrganisation.objects.create(name="Acme", contact_email="acme@example.org", is_approved=True)
    org.members.add(user)
    app = services.application_create(user=user, organisation=org, name="a")
    key, _text = keys.api_key_create(application=app, name="k", scopes=["datasets:read"])
    day = timezone.localdate().replace(day=3)
    ApiUsage.objects.create(key=key, day=day, endpoint="GET api/v1/datahub/datasets/", status=200, count=40)
    ApiUsage.objects.create(key=key, day=day, endpoint="GET api/v1/datahub/datasets/", status=429, count=2)
    paths = reports.usage_report_write(month=day, out_dir=tmp_path, email=True)
    csv_path = next(p for p in paths if p.suffix == ".csv")
    lines = csv_path.read_text().splitlines()
    assert lines[0] == ",".join(reports.CSV_COLUMNS)
    assert "Acme,a,k," in lines[1] and lines[1].endswith(",200,40")
    html = next(p for p in paths if p.suffix == ".html").read_text()
    assert "42" in html
    assert mail.outbox[-1].to == ["acme@example.org"] and mail.outbox[-1].attachments
    call_command("api_usage_report", "--month", day.strftime("%Y-%m"), "--out", str(tmp_path))
    with pytest.raises(Exception, match="YYYY-MM"):
        call_command("api_usage_report", "--month", "2026-13x")
