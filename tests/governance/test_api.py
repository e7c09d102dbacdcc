import pytest
from django.test import TestCase

from cityos import bus
from governance.models import Case, CategoryCorrection
from governance.services.cases import case_create, case_transition
from tests.factories import make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/governance/cases/"


def _client(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def test_it_creates_a_case_with_a_tracking_number(api_client, city):
    c = _client(api_client, city.dispatcher)
    resp = c.post(
        URL,
        {"title": "小区门口垃圾没人清理", "lon": city.P2[0], "lat": city.P2[1], "reporter_phone": "13800000000"},
        format="json",
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["tracking_number"].startswith("BJ") and body["category"] == city.litter.id
    assert body["department"] == city.urban.id and body["grid"] == city.grid2.id
    assert body["classification"]["confidence"] > 0


def test_it_names_the_field_of_bad_input(api_client, city):
    resp = _client(api_client, city.dispatcher).post(URL, {"title": "x", "lon": 500, "lat": 30}, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "validation_error" and "lon" in resp.json()["error"]["message"]


def test_it_scopes_the_list_to_the_officers_department(api_client, city):
    case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])  # -> urban
    case_create(channel="api", title="噪音 outside", lon=121.0, lat=31.0)  # -> env (no area rule)
    env_view = _client(api_client, city.env_officer).get(URL).json()
    assert [r["department"] for r in env_view["results"]] == [city.env.id]
    all_view = _client(api_client, city.dispatcher).get(URL).json()
    assert all_view["count"] == 2


def test_it_lists_cases_in_constant_queries(api_client, city, django_assert_max_num_queries):
    for _ in range(6):
        case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    c = _client(api_client, city.officer)
    with django_assert_max_num_queries(8):
        resp = c.get(URL, {"status": "dispatched", "open": "true"})
    assert resp.json()["count"] == 6 and resp.json()["results"][0]["sla"] in ("ok", "warning")


def test_it_applies_a_transition_and_answers_409_from_the_wrong_state(api_client, city):
    case = case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    c = _client(api_client, city.officer)
    resp = c.post(f"{URL}{case.id}/transition/", {"action": "accept"}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "accepted"
    assert "resolve" in resp.json()["actions"]
    resp = c.post(f"{URL}{case.id}/transition/", {"action": "accept"}, format="json")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "invalid_transition"


def test_it_answers_403_when_the_role_may_not(api_client, city):
    case = case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    resp = _client(api_client, city.officer).post(
        f"{URL}{case.id}/transition/", {"action": "reassign", "department": city.env.id}, format="json"
    )
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "permission_denied"


def test_it_applies_bulk_actions_case_by_case(api_client, city):
    a = case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    b = case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    case_transition(case_id=b.id, action="accept", actor=city.officer)
    resp = _client(api_client, city.officer).post(
        f"{URL}bulk/", {"ids": [a.id, b.id], "action": "accept"}, format="json"
    )
    assert resp.json()["done"] == [a.id] and str(b.id) in resp.json()["failed"]


def test_it_keeps_an_officers_category_correction(api_client, city):
    case = case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    resp = _client(api_client, city.officer).post(
        f"{URL}{case.id}/category/", {"category": city.litter.id}, format="json"
    )
    assert resp.json()["category"] == city.litter.id
    corr = CategoryCorrection.objects.get(case=case)
    assert (corr.previous_id, corr.corrected_id) == (city.noise.id, city.litter.id)


def test_it_proposes_nearby_same_category_cases_as_duplicates(api_client, city):
    a = case_create(channel="api", title="噪音", lon=120.0200, lat=30.0200)
    near = case_create(channel="api", title="噪音", lon=120.0210, lat=30.0205)  # ~110 m away
    case_create(channel="api", title="噪音", lon=120.0300, lat=30.0200)  # ~960 m away
    case_create(channel="api", title="垃圾", lon=120.0201, lat=30.0200)  # other category
    resp = _client(api_client, city.dispatcher).get(f"{URL}{a.id}/duplicates/")
    assert [r["id"] for r in resp.json()] == [near.id]
    resp = _client(api_client, city.dispatcher).post(f"{URL}{a.id}/merge/", {"duplicate": near.id}, format="json")
    assert resp.status_code == 200
    assert Case.objects.get(pk=near.id).merged_into_id == a.id


def test_it_uploads_an_attachment(api_client, city, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path)
    case = case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    resp = _client(api_client, city.officer).post(
        f"{URL}{case.id}/attachments/",
        {"file": SimpleUploadedFile("photo.jpg", b"jpegdata", "image/jpeg")},
        format="multipart",
    )
    assert resp.status_code == 201 and resp.json()["name"] == "photo.jpg" and resp.json()["size"] == 8


def test_citizens_follow_a_case_without_login(api_client, city):
    case = case_create(channel="hotline", title="噪音", lon=city.P1[0], lat=city.P1[1], reporter_phone="13912345678")
    resp = api_client.get(f"/api/v1/governance/track/{case.tracking_number}/", {"key": case.citizen_key})
    assert resp.status_code == 200 and resp.json()["status"] == "dispatched"
    assert "13912345678" not in resp.content.decode()
    assert [t["action"] for t in resp.json()["timeline"]] == ["receive", "dispatch"]


def test_citizens_rate_and_a_low_rating_reopens(api_client, city):
    case = case_create(channel="hotline", title="噪音", lon=city.P1[0], lat=city.P1[1])
    case_transition(case_id=case.id, action="accept", actor=city.officer)
    case_transition(case_id=case.id, action="resolve", actor=city.officer, note="ok")
    url = f"/api/v1/governance/track/{case.tracking_number}/"
    assert api_client.post(url, {"rating": 9, "key": case.citizen_key}, format="json").status_code == 400
    resp = api_client.post(url, {"rating": 2, "comment": "还是很吵", "key": case.citizen_key}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "dispatched"


def test_it_opens_a_case_from_a_monitoring_alert_once(city):
    payload = {
        "alert_id": 42,
        "rule_name": "pm25-high",
        "severity": "critical",
        "title": "PM2.5 超标",
        "description": "站点PM2.5 持续超过 150",
        "lon": city.P1[0],
        "lat": city.P1[1],
        "area_id": None,
        "department_id": city.env.id,
        "raised_at": "2026-11-24T10:00:00+08:00",
        "open_case": True,
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        bus.publish("monitoring.alert_raised", payload)
    with TestCase.captureOnCommitCallbacks(execute=True):
        bus.publish("monitoring.alert_raised", payload)
    case = Case.objects.get(origin_ref="alert:42")
    assert case.channel == "alert" and case.priority == "urgent" and case.grid_id == city.grid1.id
    assert case.department_id is not None


def test_it_ignores_alerts_that_do_not_ask_for_a_case(city):
    from governance.subscribers import on_alert_raised

    assert on_alert_raised({"alert_id": 1, "open_case": False}) is None
    assert not Case.objects.exists()


def test_it_opens_a_case_from_a_flagged_document(city):
    user = make_user(department=city.hotline)
    with TestCase.captureOnCommitCallbacks(execute=True):
        bus.publish(
            "datahub.document_flagged",
            {
                "document_id": 9,
                "title": "网友反映长安街道垃圾成堆",
                "body": "垃圾好几天没人清理",
                "url": "https://example.org/p/9",
                "area_id": city.street.id,
                "lon": None,
                "lat": None,
                "flagged_by_user_id": user.id,
                "topic": "环境",
            },
        )
    case = Case.objects.get(origin_ref="document:9")
    assert case.channel == "document" and case.category_id == city.litter.id and case.area_id == city.street.id


def test_it_caps_the_inbox_count_on_huge_lists(api_client, city, monkeypatch):
    monkeypatch.setattr("governance.pagination.COUNT_CAP", 2)
    for _ in range(4):
        case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    body = _client(api_client, city.dispatcher).get(URL, {"page_size": 1}).json()
    assert body["count"] == 2 and body["count_capped"] is True and len(body["results"]) == 1


def test_a_grid_worker_files_a_patrol_report_through_the_api(api_client, city):
    from governance.services.grids import grid_assign

    grid_assign(grid_id=city.grid2.id, worker=city.grid_worker)
    resp = _client(api_client, city.grid_worker).post(
        "/api/v1/governance/patrol-reports/",
        {"title": "路边垃圾堆放", "lon": city.P2[0], "lat": city.P2[1]},
        format="json",
    )
    assert resp.status_code == 201, resp.content
    assert resp.json()["channel"] == "grid" and resp.json()["grid"] == city.grid2.id


def test_it_serves_efficiency_to_leaders_only(api_client, city):
    case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    resp = _client(api_client, city.officer).get("/api/v1/governance/efficiency/")
    assert resp.status_code == 403
    resp = _client(api_client, city.dispatcher).get("/api/v1/governance/efficiency/", {"start": "2000-01-01"})
    assert resp.status_code == 200 and resp.json()[0]["department_id"] == city.urban.id
    bad = _client(api_client, city.dispatcher).get("/api/v1/governance/efficiency/", {"start": "soon"})
    assert bad.status_code == 400 and "start" in bad.json()["error"]["message"]
