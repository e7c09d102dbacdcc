"""Offices close on the city's holidays, which governance's working calendar owns: its edits reach
livelihood through the `governance.calendar_changed` domain event (the real bus, after commit)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.models import CalendarDay
from governance.services.calendar import calendar_days_set, calendar_publish
from livelihood.models import Holiday, Slot
from livelihood.services.appointments import appointment_book, slots_generate
from livelihood.services.errors import LivelihoodError
from tests.factories import make_department, make_user
from tests.livelihood.factories import make_office, make_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def office():
    dept = make_department()
    svc = make_service(department=dept)
    office = make_office(department=dept, services=[svc], capacity=2)
    slots_generate(office_id=office.id, days=3, start=timezone.localdate() + timedelta(days=1))
    office.svc = svc
    return office


def _day_slots(office, day):
    return Slot.objects.filter(office=office, starts_at__date=day).order_by("starts_at")


def test_a_holiday_set_in_governance_closes_the_offices_and_its_removal_reopens_them(
    office, django_capture_on_commit_callbacks
):
    day = timezone.localdate() + timedelta(days=2)
    n = _day_slots(office, day).count()
    assert n == 16
    kept = _day_slots(office, day).first()
    appointment_book(slot_id=kept.id, service_id=office.svc.id, name="张三", phone="13800000000")
    with django_capture_on_commit_callbacks(execute=True):
        calendar_days_set(days=[(day, "holiday", "测试节")])
    h = Holiday.objects.get(date=day, office=None)
    assert h.from_calendar and h.name == "测试节"
    # The free slots of that day are gone; the booked one stays (the office moves its appointment)
    # and can no longer be booked.
    assert list(_day_slots(office, day)) == [kept]
    with pytest.raises(LivelihoodError, match="holiday") as exc:
        appointment_book(slot_id=kept.id, service_id=office.svc.id, name="李四", phone="13900000000")
    assert exc.value.status_code == 400
    # Other days are untouched.
    assert _day_slots(office, day + timedelta(days=1)).count() == 16
    # Governance turns it back into a working day: the holiday goes and the slots come back.
    with django_capture_on_commit_callbacks(execute=True):
        calendar_days_set(days=[(day, "workday", "调休上班")])
    assert not Holiday.objects.filter(date=day).exists()
    assert _day_slots(office, day).count() == 16


def test_an_office_holiday_of_its_own_is_left_alone_by_the_calendar(office, django_capture_on_commit_callbacks):
    day = timezone.localdate() + timedelta(days=5)
    own = Holiday.objects.create(date=day, office=office, name="盘点")
    with django_capture_on_commit_callbacks(execute=True):
        calendar_days_set(days=[(day, "holiday", "节日")])
    assert Holiday.objects.filter(date=day).count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        calendar_days_set(days=[(day, None, "")])
    assert list(Holiday.objects.filter(date=day)) == [own]


def test_the_admin_edit_of_the_calendar_reaches_the_offices(client, django_capture_on_commit_callbacks):
    from cityos.roles import Role

    admin = make_user(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client.force_login(admin)
    day = timezone.localdate() + timedelta(days=40)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            reverse("admin:governance_calendarday_add"), {"date": day.isoformat(), "kind": "holiday", "name": "国庆节"}
        )
    assert r.status_code == 302, r.content[:500]
    assert Holiday.objects.filter(date=day, office=None, from_calendar=True, name="国庆节").exists()
    cd = CalendarDay.objects.get(date=day)
    moved = day + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            reverse("admin:governance_calendarday_change", args=[cd.pk]),
            {"date": moved.isoformat(), "kind": "holiday", "name": "国庆节"},
        )
    assert r.status_code == 302
    assert list(Holiday.objects.filter(from_calendar=True).values_list("date", flat=True)) == [moved]
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(reverse("admin:governance_calendarday_delete", args=[cd.pk]), {"post": "yes"})
    assert r.status_code == 302
    assert not Holiday.objects.filter(from_calendar=True).exists()


def test_a_resync_publishes_the_whole_calendar(django_capture_on_commit_callbacks):
    day = timezone.localdate() + timedelta(days=50)
    CalendarDay.objects.create(date=day, kind="holiday", name="元旦")  # written without the event
    assert not Holiday.objects.filter(date=day).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert calendar_publish() == CalendarDay.objects.count()
    assert Holiday.objects.filter(date=day, from_calendar=True).exists()


def test_a_new_holiday_cancels_the_appointments_of_that_day_tells_their_citizens_and_is_handled_once(
    office, client, django_capture_on_commit_callbacks
):
    from django.core import mail

    from datahub.models import Event
    from livelihood.models import Appointment

    day = timezone.localdate() + timedelta(days=2)
    first, second = list(_day_slots(office, day)[:2])
    mailed = appointment_book(slot_id=first.id, service_id=office.svc.id, name="张三", email="z@example.com")
    phoned = appointment_book(slot_id=second.id, service_id=office.svc.id, name="李四", phone="13900000000")
    other_day = _day_slots(office, day + timedelta(days=1)).first()
    kept = appointment_book(slot_id=other_day.id, service_id=office.svc.id, name="王五", email="w@example.com")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        calendar_days_set(days=[(day, "holiday", "测试节")])

    for appt in (mailed, phoned):
        appt.refresh_from_db()
        assert (appt.status, appt.cancel_reason, appt.cancel_note) == ("cancelled", "holiday", "测试节")
        assert appt.cancelled_at is not None
    # Their places are released (the slots stay, as the appointments' history).
    assert [s.booked for s in Slot.objects.filter(id__in=[first.id, second.id])] == [0, 0]
    kept.refresh_from_db()
    assert kept.status == "booked" and Slot.objects.get(id=other_day.id).booked == 1
    # One e-mail, to the citizen who gave an address, naming the holiday and the code.
    assert [m.to for m in mail.outbox] == [["z@example.com"]]
    assert mailed.code in mail.outbox[0].subject and "测试节" in mail.outbox[0].body
    # Each cancellation is in the datahub's event log, with the holiday as its reason.
    events = Event.objects.filter(type="livelihood.appointment_cancelled").order_by("object_ref")
    assert sorted(e.object_ref for e in events) == sorted(
        f"livelihood:appointment:{a.id}" for a in (mailed, phoned)
    )
    assert all(e.payload["reason"] == "holiday" and e.payload["date"] == day.isoformat() for e in events)
    assert all(e.area_id == office.area_id for e in events)

    # The same holiday handled again (governance resyncs its whole calendar): nothing changes twice.
    with django_capture_on_commit_callbacks(execute=True):
        calendar_publish()
    assert len(mail.outbox) == 1
    assert Event.objects.filter(type="livelihood.appointment_cancelled").count() == 2
    assert [s.booked for s in Slot.objects.filter(id__in=[first.id, second.id])] == [0, 0]
    assert Appointment.objects.filter(status="cancelled").count() == 2

    # The citizen's appointment page says why, in Chinese and in English.
    url = f"/portal/appointments/{mailed.code}/?token={mailed.token}"
    page = client.get(url, HTTP_HOST="127.0.0.1").content.decode()
    assert 'id="appt-cancel-reason"' in page and "测试节" in page and "法定节假日" in page
    client.cookies["django_language"] = "en"
    page = client.get(url, HTTP_HOST="127.0.0.1").content.decode()
    assert "has been declared a public holiday (测试节)" in page
