from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from cityos.roles import Role
from datahub.models import Event
from livelihood.models import PublishStatus, ServiceVersion
from livelihood.selectors import life_event_materials, notices_current
from livelihood.services.guide import life_event_save, service_save, service_set_status
from livelihood.services.notices import (
    notice_save,
    notice_set_status,
    notices_announce_due,
    notices_send_digests,
    render_markdown,
    subscription_create,
)
from tests.factories import make_department, make_user

pytestmark = pytest.mark.django_db


def test_services_are_versioned_and_published(department):
    svc = service_save(code="S1", name="出生医学证明", department_id=department.id, materials=[{"name": "身份证"}])
    assert svc.version == 1 and svc.status == PublishStatus.DRAFT
    svc = service_save(code="S1", name="出生医学证明办理", note="rename")
    assert svc.version == 2
    assert service_save(code="S1", name="出生医学证明办理").version == 2  # nothing changed: no new version
    assert list(ServiceVersion.objects.filter(service=svc).values_list("version", flat=True)) == [2, 1]
    service_set_status(service_id=svc.id, status="published")
    svc.refresh_from_db()
    assert svc.status == "published" and svc.published_at
    assert Event.objects.filter(type="livelihood.service_published").count() == 1


def test_a_life_event_lists_combined_materials_once(department):
    service_save(code="A", name="出生登记", department_id=department.id,
                 materials=[{"name": "身份证", "copies": 1}, {"name": "出生医学证明"}])  # fmt: skip
    service_save(code="B", name="户口登记", department_id=department.id,
                 materials=[{"name": "身份证 ", "copies": 2}, {"name": "户口簿"}])  # fmt: skip
    le = life_event_save(code="baby", name="生孩子", service_codes=["A", "B"])
    mats = life_event_materials(le)
    assert [m["name"] for m in mats] == ["身份证", "出生医学证明", "户口簿"]
    assert mats[0]["copies"] == 2 and mats[0]["services"] == ["A", "B"]


def test_officers_edit_only_their_departments_services(api_client):
    ours, theirs = make_department(), make_department()
    api_client.force_authenticate(make_user(department=ours))
    body = {"code": "X1", "name": "事项", "department": ours.id, "materials": [{"name": "身份证"}]}
    r = api_client.post("/api/v1/livelihood/services/", body, format="json")
    assert r.status_code == 201, r.content
    r = api_client.post("/api/v1/livelihood/services/", {**body, "code": "X2", "department": theirs.id}, format="json")
    assert r.status_code == 403
    sid = api_client.get("/api/v1/livelihood/services/").json()["results"][0]["id"]
    r = api_client.post(f"/api/v1/livelihood/services/{sid}/status/", {"status": "published"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "published"
    api_client.force_authenticate(make_user(department=theirs))
    r = api_client.patch(f"/api/v1/livelihood/services/{sid}/", {"name": "改"}, format="json")
    assert r.status_code == 403
    api_client.force_authenticate(None)
    assert api_client.get("/api/v1/livelihood/services/").json()["count"] == 1  # the public sees published ones
    r = api_client.post("/api/v1/livelihood/services/", body, format="json")
    assert r.status_code in (401, 403)


def test_markdown_cannot_inject_script():
    html = render_markdown(
        "# 停水通知\n\n<script>alert(1)</script>\n\n[点我](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n**明天**"
    )
    # Raw HTML comes out as text, the javascript: link is not a link, and nothing carries a handler.
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "<a" not in html and 'href="javascript' not in html
    assert "<strong>明天</strong>" in html
    safe = render_markdown('[ok](https://example.org "t") <a href="javascript:x">y</a>')
    assert '<a href="https://example.org" title="t" rel="noopener noreferrer">ok</a>' in safe
    assert '<a href="javascript' not in safe


def test_notices_follow_areas_schedule_and_expiry(city, django_capture_on_commit_callbacks):
    now = timezone.now()
    everyone = notice_save(department_id=city.urban.id, title="全市通知", body="正文")
    grid2 = notice_save(department_id=city.urban.id, title="二网格停水", body="正文", area_ids=[city.grid2.id])
    street = notice_save(
        department_id=city.urban.id, title="街道通知", body="正文", area_ids=[city.street.id], pinned=True
    )
    later = notice_save(department_id=city.urban.id, title="明天", body="正文", publish_at=now + timedelta(days=1))
    expired = notice_save(
        department_id=city.urban.id, title="过期", body="正文", publish_at=now - timedelta(days=2),
        expires_at=now - timedelta(days=1),
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        for n in (everyone, grid2, street, later, expired):
            notice_set_status(notice_id=n.id, status="published")
    in_grid1 = list(notices_current(area_id=city.grid1.id))
    assert in_grid1 == [street, everyone]  # pinned first; a street notice reaches its grids
    assert set(notices_current(area_id=city.grid2.id)) == {street, everyone, grid2}
    assert list(notices_current()) == [everyone]
    assert later not in notices_current(at=now) and later in notices_current(at=now + timedelta(days=2))
    assert Event.objects.filter(type="livelihood.notice_published").count() == 4  # `later` not yet
    assert notices_announce_due() == 0


def test_digests_go_to_area_subscribers_once(city):
    subscription_create(email="a@example.com", area_id=city.grid1.id)
    n = notice_save(department_id=city.urban.id, title="街道停电", body="正文", area_ids=[city.street.id])
    notice_set_status(notice_id=n.id, status="published")
    assert notices_send_digests() == 1
    assert notices_send_digests() == 0
    assert "街道停电" in mail.outbox[0].body


def test_notice_api_renders_safe_html_and_staff_scope(city, api_client):
    api_client.force_authenticate(city.officer)
    r = api_client.post(
        "/api/v1/livelihood/notices/",
        {"department": city.urban.id, "title": "通知", "body": "<script>x</script>**重要**"},
        format="json",
    )
    assert r.status_code == 201, r.content
    nid = r.json()["id"]
    api_client.post(f"/api/v1/livelihood/notices/{nid}/status/", {"status": "published"}, format="json")
    api_client.force_authenticate(None)
    public = api_client.get("/api/v1/livelihood/notices/", {"area": city.grid1.id}).json()["results"]
    assert public[0]["body_html"] == "<p>&lt;script&gt;x&lt;/script&gt;<strong>重要</strong></p>\n"
    api_client.force_authenticate(city.env_officer)
    r = api_client.patch(f"/api/v1/livelihood/notices/{nid}/", {"title": "改"}, format="json")
    assert r.status_code == 404
    api_client.force_authenticate(make_user(role=Role.CITIZEN))
    r = api_client.post(
        "/api/v1/livelihood/notices/", {"department": city.urban.id, "title": "x", "body": "y"}, format="json"
    )
    assert r.status_code == 403
