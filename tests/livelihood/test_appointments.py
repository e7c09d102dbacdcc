from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from datahub.models import Event
from livelihood.models import Appointment, Holiday, Slot
from livelihood.services.appointments import (
    appointment_book,
    appointment_cancel,
    appointment_counter,
    appointment_reschedule,
    appointments_remind,
    slots_generate,
)
from livelihood.services.errors import LivelihoodError, SlotFull
from tests.factories import make_department, make_user
from tests.livelihood.factories import make_office, make_service


@pytest.fixture
def office(db):
    dept = make_department()
    svc = make_service(department=dept)
    office = make_office(department=dept, services=[svc], capacity=2)
    slots_generate(office_id=office.id, days=3, start=timezone.localdate() + timedelta(days=1))
    office.svc = svc
    return office


def _slot(office, n=0) -> Slot:
    return Slot.objects.filter(office=office).order_by("starts_at")[n]


@pytest.mark.django_db
def test_slots_come_from_weekly_templates_skip_holidays_and_are_generated_once(office):
    # 3 days x 09:00-17:00 in 30-minute slots.
    assert Slot.objects.filter(office=office).count() == 3 * 16
    start = timezone.localdate() + timedelta(days=10)
    Holiday.objects.create(date=start, name="国庆")
    assert slots_generate(office_id=office.id, days=2, start=start) == 16
    assert slots_generate(office_id=office.id, days=2, start=start) == 0
    assert not Slot.objects.filter(office=office, starts_at__date=start).exists()


@pytest.mark.django_db
def test_booking_gives_a_code_records_an_event_and_a_full_slot_is_409(office):
    slot = _slot(office)
    a = appointment_book(slot_id=slot.id, service_id=office.svc.id, name="张三", phone="13800000000")
    appointment_book(slot_id=slot.id, service_id=office.svc.id, name="李四", email="l@example.com")
    assert len(a.code) == 8 and a.status == "booked"
    with pytest.raises(SlotFull) as exc:
        appointment_book(slot_id=slot.id, service_id=office.svc.id, name="王五", phone="1")
    assert exc.value.status_code == 409
    slot.refresh_from_db()
    assert slot.booked == 2
    assert Event.objects.filter(
        type="livelihood.appointment_booked", object_ref=f"livelihood:appointment:{a.id}"
    ).exists()


@pytest.mark.django_db
def test_past_slots_and_missing_contact_are_refused_with_the_reason(office):
    slot = _slot(office)
    Slot.objects.filter(pk=slot.pk).update(starts_at=timezone.now() - timedelta(hours=1))
    with pytest.raises(LivelihoodError, match="already passed") as exc:
        appointment_book(slot_id=slot.id, service_id=office.svc.id, name="张三", phone="1")
    assert exc.value.status_code == 400
    with pytest.raises(LivelihoodError, match="phone or email"):
        appointment_book(slot_id=_slot(office, 1).id, service_id=office.svc.id, name="张三")


@pytest.mark.django_db
def test_cancel_and_reschedule_free_and_claim_places(office):
    s1, s2 = _slot(office), _slot(office, 1)
    a = appointment_book(slot_id=s1.id, service_id=office.svc.id, name="张三", phone="1")
    appointment_reschedule(appointment_id=a.id, slot_id=s2.id)
    s1.refresh_from_db(), s2.refresh_from_db()
    assert (s1.booked, s2.booked) == (0, 1)
    appointment_cancel(appointment_id=a.id)
    s2.refresh_from_db()
    assert s2.booked == 0
    with pytest.raises(LivelihoodError) as exc:
        appointment_cancel(appointment_id=a.id)
    assert exc.value.status_code == 409


@pytest.mark.django_db
def test_the_counter_queue_checks_in_serves_and_marks_no_shows(office):
    slot = _slot(office)
    a = appointment_book(slot_id=slot.id, service_id=office.svc.id, name="张三", phone="1")
    b = appointment_book(slot_id=slot.id, service_id=office.svc.id, name="李四", phone="2")
    assert appointment_counter(appointment_id=a.id, action="check_in").queue_number == 1
    appointment_counter(appointment_id=a.id, action="serve")
    assert appointment_counter(appointment_id=a.id, action="done").status == "served"
    assert appointment_counter(appointment_id=b.id, action="no_show").status == "no_show"
    with pytest.raises(LivelihoodError) as exc:
        appointment_counter(appointment_id=b.id, action="serve")
    assert exc.value.status_code == 409
    assert Event.objects.filter(type="livelihood.appointment_checked_in").count() == 1


@pytest.mark.django_db
def test_reminders_are_emailed_once(office):
    slot = _slot(office)
    Slot.objects.filter(pk=slot.pk).update(starts_at=timezone.now() + timedelta(hours=3))
    appointment_book(slot_id=slot.id, service_id=office.svc.id, name="张三", email="z@example.com")
    appointment_book(slot_id=slot.id, service_id=office.svc.id, name="李四", phone="2")  # no e-mail
    assert appointments_remind() == 1
    assert appointments_remind() == 0
    assert len(mail.outbox) == 1 and "z@example.com" in mail.outbox[0].to


@pytest.mark.django_db(transaction=True)
def test_200_concurrent_bookings_for_10_places_book_exactly_10():
    dept = make_department()
    svc = make_service(department=dept)
    office = make_office(department=dept, services=[svc], capacity=10)
    slots_generate(office_id=office.id, days=1, start=timezone.localdate() + timedelta(days=1))
    slot = Slot.objects.filter(office=office).first()

    def book(i):
        try:
            appointment_book(slot_id=slot.id, service_id=svc.id, name=f"市民{i}", phone=str(i))
            return "ok"
        except SlotFull:
            return "full"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(book, range(200)))
    slot.refresh_from_db()
    assert results.count("ok") == 10 and results.count("full") == 190
    assert slot.booked == 10 == Appointment.objects.filter(slot=slot).count()


@pytest.mark.django_db
def test_the_booking_api_answers_201_409_and_400_outside_hours(api_client, office):
    slot = _slot(office)
    body = {"slot": slot.id, "service": office.svc.id, "name": "张三", "phone": "138"}
    r1 = api_client.post("/api/v1/livelihood/appointments/", body, format="json")
    assert r1.status_code == 201, r1.content
    assert r1.json()["token"] and r1.json()["code"]
    api_client.post("/api/v1/livelihood/appointments/", body, format="json")
    r3 = api_client.post("/api/v1/livelihood/appointments/", body, format="json")
    assert r3.status_code == 409 and r3.json()["error"]["code"] == "slot_full"
    evening = timezone.localtime(slot.starts_at).replace(hour=20, minute=0)
    r4 = api_client.post(
        "/api/v1/livelihood/appointments/",
        {"office": office.id, "starts_at": evening.isoformat(), "service": office.svc.id, "name": "张三", "phone": "1"},
        format="json",
    )
    assert r4.status_code == 400 and "opening hours" in r4.json()["error"]["message"]
    # The booker cancels with the token; a wrong token finds nothing.
    appt_id = r1.json()["id"]
    r = api_client.post(f"/api/v1/livelihood/appointments/{appt_id}/cancel/", {"token": "x" * 32}, format="json")
    assert r.status_code == 404
    r = api_client.post(
        f"/api/v1/livelihood/appointments/{appt_id}/cancel/", {"token": r1.json()["token"]}, format="json"
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


@pytest.mark.django_db
def test_the_counter_api_is_for_the_offices_department_only(api_client, office):
    a = appointment_book(slot_id=_slot(office).id, service_id=office.svc.id, name="张三", phone="1")
    api_client.force_authenticate(make_user(department=make_department()))
    r = api_client.post(f"/api/v1/livelihood/appointments/{a.id}/counter/", {"action": "check_in"}, format="json")
    assert r.status_code == 404
    api_client.force_authenticate(make_user(department=office.department))
    r = api_client.post(f"/api/v1/livelihood/appointments/{a.id}/counter/", {"action": "check_in"}, format="json")
    assert r.status_code == 200 and r.json()["queue_number"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_booking_writes_its_event_in_the_same_statement_and_announces_it(office, monkeypatch):
    """One round trip books the place and logs the event (autocommit: both or neither), then
    `datahub.event_recorded` is published as for any event. The statement is prepared once per
    connection (the first booking's extra round trip), then only executed."""
    from cityos import bus

    published = []
    monkeypatch.setattr(bus, "publish", lambda t, p: published.append((t, p)))
    appointment_book(slot_id=_slot(office, 1).id, service_id=office.svc.id, name="甲", phone="1")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = 'livelihood_appointment_book'")
        assert cur.fetchone() == (1,)
    published.clear()
    slot = _slot(office)
    with CaptureQueriesContext(connection) as q:
        a = appointment_book(slot_id=slot.id, service_id=office.svc.id, name="张三", phone="13800000000")
    assert [x["sql"].split()[0] for x in q.captured_queries] == ["EXECUTE"]
    ev = Event.objects.get(type="livelihood.appointment_booked", object_ref=f"livelihood:appointment:{a.id}")
    assert ev.payload["service_id"] == office.svc.id and ev.payload["office"] == office.code
    from datetime import datetime

    assert datetime.fromisoformat(ev.payload["starts_at"]) == slot.starts_at
    assert published == [
        (
            "datahub.event_recorded",
            {"event_id": ev.id, "type": ev.type, "area_id": ev.area_id, "occurred_at": ev.occurred_at.isoformat()},
        )
    ]
