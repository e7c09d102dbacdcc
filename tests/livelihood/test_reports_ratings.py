"""The portal report and 好差评 loop through the real event path: report -> case.requested -> governance case ->
case_updated/closed -> the citizen sees it -> rates -> a 1-star rating opens a rectification case."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cityos.roles import Role
from datahub.models import Event
from governance.models import Case
from governance.services.cases import case_transition
from livelihood.models import Rating, Report
from livelihood.services.errors import LivelihoodError
from livelihood.services.ratings import rating_reply, rating_submit
from livelihood.services.reports import report_submit
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _png(size=(8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "red").save(buf, "PNG")
    return buf.getvalue()


def test_portal_report_to_closed_case_to_rating_to_rectification(city, api_client, django_capture_on_commit_callbacks):
    lon, lat = city.P1
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.post(
            "/api/v1/livelihood/reports/",
            {
                "category": "noise",
                "description": "楼下酒吧噪音太吵，每天夜里",
                "lon": lon,
                "lat": lat,
                "photo": SimpleUploadedFile("p.png", _png(), content_type="image/png"),
            },
            format="multipart",
        )
    assert r.status_code == 201, r.content
    body = r.json()
    number, token = body["number"], body["token"]
    assert len(token) >= 32 and body["tracking_url"].endswith(token)
    report = Report.objects.get(number=number)
    assert report.photo and report.area_id == city.grid1.id
    case = Case.objects.get(origin_ref=f"portal_report:{report.id}")
    assert case.channel == "portal" and case.department_id == city.urban.id
    report.refresh_from_db()
    assert report.case_number == case.tracking_number and report.status == "dispatched"

    # The number alone shows nothing; with the token the citizen follows the case.
    assert api_client.get("/api/v1/livelihood/reports/track/", {"number": number, "token": "x" * 32}).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        case_transition(case_id=case.id, action="accept", actor=city.officer)
        case_transition(case_id=case.id, action="resolve", actor=city.officer, note="已协调店家降低音量")
        case_transition(case_id=case.id, action="close", actor=city.dispatcher, note="市民已确认")
    seen = api_client.get("/api/v1/livelihood/reports/track/", {"number": number, "token": token}).json()
    assert seen["status"] == "closed" and seen["public_note"]
    assert [h["status"] for h in seen["history"]][-3:] == ["accepted", "resolved", "closed"]
    assert "reporter" not in str(seen) and "phone" not in seen

    # The citizen rates the closed case with one star: a rectification case for the department.
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.post(
            "/api/v1/livelihood/ratings/",
            {"target": "case", "score": 1, "reasons": ["not_solved"], "comment": "噪音依旧", "report": number,
             "report_token": token},
            format="json",
        )  # fmt: skip
    assert r.status_code == 201, r.content
    rating = Rating.objects.get(pk=r.json()["id"])
    rect = Case.objects.get(origin_ref=f"rating:{rating.id}")
    assert rect.channel == "rating" and rect.department_id == city.urban.id and rect.priority == "high"
    rating.refresh_from_db()
    assert rating.rectification_number == rect.tracking_number and rating.rectification_status == "dispatched"
    assert Event.objects.filter(type="livelihood.rating_given", object_ref=f"livelihood:rating:{rating.id}").exists()
    assert Event.objects.filter(type="livelihood.report_submitted", area=city.grid1).count() == 1
    # Rating twice is refused; the department must reply.
    again = api_client.post(
        "/api/v1/livelihood/ratings/",
        {"target": "case", "score": 5, "report": number, "report_token": token},
        format="json",
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_rated"
    rating_reply(rating_id=rating.id, reply="已约谈店家，加装隔音", actor=city.officer)
    rating.refresh_from_db()
    assert rating.replied_at and rating.reply


def test_a_report_needs_a_location_inside_the_city(city, api_client):
    base = {"category": "roads", "description": "路面有一个大坑"}
    r = api_client.post("/api/v1/livelihood/reports/", base, format="json")
    assert r.status_code == 400 and r.json()["error"]["field"] == "location"
    r = api_client.post("/api/v1/livelihood/reports/", {**base, "lon": 10.0, "lat": 10.0}, format="json")
    assert r.status_code == 400 and "outside the city" in r.json()["error"]["message"]
    assert not Report.objects.exists()


def test_a_photo_must_be_an_image_of_at_most_10_mb(city):
    lon, lat = city.P1
    fake = SimpleUploadedFile("x.jpg", b"%PDF-1.4 not an image", content_type="image/jpeg")
    with pytest.raises(LivelihoodError, match="not an image"):
        report_submit(category="roads", description="路面有一个大坑", lon=lon, lat=lat, photo=fake)
    big = SimpleUploadedFile("big.png", _png() + b"\0" * (10 * 1024 * 1024), content_type="image/png")
    with pytest.raises(LivelihoodError, match="10 MB"):
        report_submit(category="roads", description="路面有一个大坑", lon=lon, lat=lat, photo=big)


def test_good_ratings_open_no_case_and_reasons_come_from_the_list(city, django_capture_on_commit_callbacks):
    from tests.livelihood.factories import make_service

    svc = make_service(department=city.urban)
    with django_capture_on_commit_callbacks(execute=True):
        good = rating_submit(target="service", score=5, reasons=["fast", "friendly"], service_id=svc.id)
    assert good.rectification_status == "" and not Case.objects.filter(origin_ref=f"rating:{good.id}").exists()
    with pytest.raises(LivelihoodError, match="reason"):
        rating_submit(target="service", score=4, reasons=["<script>"], service_id=svc.id)
    with pytest.raises(LivelihoodError, match="score"):
        rating_submit(target="service", score=6, service_id=svc.id)


def test_an_open_case_cannot_be_rated_yet(city, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report = report_submit(category="noise", description="夜里噪音很吵", lon=city.P1[0], lat=city.P1[1])
    with pytest.raises(LivelihoodError) as exc:
        rating_submit(target="case", score=3, report_id=report.id)
    assert exc.value.status_code == 409


def test_the_rating_dashboard_and_list_are_scoped_to_the_department(city, api_client):
    from tests.livelihood.factories import make_service

    ours, theirs = make_service(department=city.urban), make_service(department=city.env)
    for score in (5, 4, 2):
        rating_submit(target="service", score=score, service_id=ours.id)
    rating_submit(target="service", score=1, service_id=theirs.id)
    api_client.force_authenticate(city.officer)
    listed = api_client.get("/api/v1/livelihood/ratings/").json()
    assert listed["count"] == 3
    dash = api_client.get("/api/v1/livelihood/ratings/dashboard/").json()
    assert dash["totals"]["n"] == 3 and dash["distribution"] == [0, 1, 0, 1, 1]
    assert dash["by_department"][0]["bad"] == 1 and dash["by_department"][0]["unanswered"] == 1
    api_client.force_authenticate(make_user(role=Role.CITIZEN))
    assert api_client.get("/api/v1/livelihood/ratings/dashboard/").status_code == 403
