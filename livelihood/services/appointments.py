"""Appointments (预约办事): slots from weekly templates, booking that can never overbook, the counter queue.

Booking is one conditional UPDATE: `booked = booked + 1 WHERE id = … AND booked < capacity`. PostgreSQL
serialises concurrent updates of the row, and the loser of the last place updates zero rows (409); the
CHECK constraint `booked <= capacity` backs it up. No Python check-then-write anywhere.
"""

import functools
import secrets
from collections import Counter
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F, Max
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from datahub import facade
from livelihood.models import (
    Appointment,
    AppointmentStatus,
    CancelReason,
    Holiday,
    Office,
    Service,
    Slot,
    SlotTemplate,
)

from .errors import LivelihoodError, SlotFull

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out at a counter
MAX_BOOKING_DAYS = 60


def _code() -> str:
    # 32 letters: each random byte's low five bits pick one without bias (one urandom call, not eight).
    return "".join(_CODE_ALPHABET[b & 31] for b in secrets.token_bytes(8))


def slots_generate(*, office_id: int, days: int = 30, start=None) -> int:
    """Create the slots of the next `days` days from the office's weekly templates, skipping holidays.

    Idempotent (ON CONFLICT DO NOTHING on office, service, start): run nightly by beat; returns new slots."""
    start = start or timezone.localdate()
    templates = list(SlotTemplate.objects.filter(office_id=office_id))
    holidays = set(
        Holiday.objects.filter(date__gte=start, date__lt=start + timedelta(days=days))
        .filter(office_id__in=[office_id])
        .values_list("date", flat=True)
    ) | set(
        Holiday.objects.filter(office__isnull=True, date__gte=start, date__lt=start + timedelta(days=days)).values_list(
            "date", flat=True
        )
    )
    tz = timezone.get_current_timezone()
    rows = []
    for d in range(days):
        day = start + timedelta(days=d)
        if day in holidays:
            continue
        for t in templates:
            if t.weekday != day.weekday():
                continue
            cur = datetime.combine(day, t.start, tzinfo=tz)
            end = datetime.combine(day, t.end, tzinfo=tz)
            step = timedelta(minutes=max(5, t.slot_minutes))
            while cur + step <= end:
                rows.append((office_id, t.service_id, cur, cur + step, t.capacity))
                cur += step
    if not rows:
        return 0
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO livelihood_slot (office_id, service_id, starts_at, ends_at, capacity, booked)
            SELECT o, s, a, b, c, 0 FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::timestamptz[],
                                               %s::int[]) AS t(o, s, a, b, c)
            ON CONFLICT DO NOTHING
            """,
            [list(col) for col in zip(*rows, strict=True)],
        )
        return cur.rowcount


@transaction.atomic
def holidays_apply_calendar(*, days: list[dict]) -> dict:
    """Mirror governance's working calendar (its `governance.calendar_changed` days): a holiday closes
    every office that day: the free slots go, and the appointments booked that day are cancelled
    with the holiday as their reason, their places released and their citizens e-mailed (a slot
    with an appointment stays, as its history; booking refuses it). A day no longer a holiday gets
    its slots back. Idempotent (handling the same calendar twice cancels and e-mails nobody twice);
    returns {"added", "removed", "slots_removed", "appointments_cancelled"}."""
    holiday, other = set(), set()
    names = {}
    for d in days:
        try:
            day = date.fromisoformat(str(d.get("date")))
        except ValueError:
            continue
        (holiday if d.get("kind") == "holiday" else other).add(day)
        names[day] = str(d.get("name") or "")[:100]
    added = 0
    for day in sorted(holiday):
        _h, created = Holiday.objects.update_or_create(
            date=day, office=None, from_calendar=True, defaults={"name": names[day]}
        )
        added += created
    removed, _ = Holiday.objects.filter(date__in=other, office=None, from_calendar=True).delete()
    today = timezone.localdate()
    cancelled = appointments_cancel_for_holiday(days={d: names[d] for d in holiday if d >= today})
    slots_removed = 0
    if holiday:  # __date is the local date (USE_TZ, the city's time zone)
        # Slots with an appointment (even a cancelled one, kept as history) stay; booking refuses them.
        slots_removed, _ = (
            Slot.objects.filter(booked=0, starts_at__date__in=sorted(holiday))
            .filter(appointments__isnull=True)
            .delete()
        )
    reopened = [d for d in other if today <= d < today + timedelta(days=30)]
    if reopened:
        for office_id in Office.objects.filter(is_active=True).values_list("id", flat=True):
            for d in reopened:
                slots_generate(office_id=office_id, days=1, start=d)
    return {"added": added, "removed": removed, "slots_removed": slots_removed, "appointments_cancelled": cancelled}


def appointments_cancel_for_holiday(*, days: dict[date, str]) -> int:
    """Cancel the appointments still booked on these days (local dates, holiday names): the office
    is closed. Each is claimed by one conditional UPDATE (status still `booked`), so a second
    handling of the same holiday, even concurrent, finds nothing left to cancel and sends nothing.
    Their places are released, a `livelihood.appointment_cancelled` event per appointment goes to
    the datahub's log (reason `holiday`), and the citizens are e-mailed after commit. Returns how
    many were cancelled. Runs inside the caller's transaction."""
    if not days:
        return 0
    tz = timezone.get_current_timezone()
    now = timezone.now()
    rows = []
    with connection.cursor() as cur:
        for day, name in sorted(days.items()):
            start = datetime.combine(day, time.min, tzinfo=tz)
            cur.execute(
                """
                UPDATE livelihood_appointment a
                SET status = %s, cancelled_at = %s, cancel_reason = %s, cancel_note = %s
                FROM livelihood_slot s
                WHERE s.id = a.slot_id AND a.status = %s AND s.starts_at >= %s AND s.starts_at < %s
                RETURNING a.id, a.slot_id, a.office_id
                """,
                [
                    AppointmentStatus.CANCELLED,
                    now,
                    CancelReason.HOLIDAY,
                    name[:200],
                    AppointmentStatus.BOOKED,
                    start,
                    start + timedelta(days=1),
                ],
            )
            rows += [(*r, day) for r in cur.fetchall()]
    if not rows:
        return 0
    for slot_id, n in Counter(r[1] for r in rows).items():
        Slot.objects.filter(pk=slot_id).update(booked=Greatest(F("booked") - n, 0))
    areas = dict(Office.objects.filter(id__in={r[2] for r in rows}).values_list("id", "area_id"))
    facade.event_record_many(
        events=[
            {
                "type": "livelihood.appointment_cancelled",
                "occurred_at": now,
                "area_id": areas.get(office_id),
                "object_ref": f"livelihood:appointment:{appt_id}",
                "payload": {"reason": CancelReason.HOLIDAY.value, "date": day.isoformat(), "holiday": days[day]},
            }
            for appt_id, _slot_id, office_id, day in rows
        ]
    )
    ids = [r[0] for r in rows]
    transaction.on_commit(lambda: appointments_notify_cancelled(appointment_ids=ids))
    return len(rows)


def appointments_notify_cancelled(*, appointment_ids: list[int]) -> int:
    """E-mail the citizens whose appointments the office cancelled (a holiday), with the reason and
    where to book again. Called once per cancellation, after its commit; returns e-mails sent."""
    sent = 0
    qs = (
        Appointment.objects.filter(pk__in=appointment_ids, status=AppointmentStatus.CANCELLED)
        .exclude(email="")
        .select_related("slot", "office", "service")
    )
    for appt in qs:
        starts = timezone.localtime(appt.slot.starts_at)
        send_mail(
            _("Your appointment %(code)s is cancelled") % {"code": appt.code},
            _(
                "%(day)s has been declared a public holiday (%(holiday)s) and %(office)s is closed that day, "
                "so your appointment for %(service)s at %(when)s (confirmation code %(code)s) is cancelled. "
                "Please book another time on the citizen portal."
            )
            % {
                "day": starts.strftime("%Y-%m-%d"),
                "holiday": appt.cancel_note or _("holiday"),
                "office": appt.office.name,
                "service": appt.service.name,
                "when": starts.strftime("%Y-%m-%d %H:%M"),
                "code": appt.code,
            },
            settings.DEFAULT_FROM_EMAIL,
            [appt.email],
            fail_silently=True,
        )
        sent += 1
    return sent


def _claim_place(slot_id: int) -> bool:
    with connection.cursor() as cur:
        cur.execute("UPDATE livelihood_slot SET booked = booked + 1 WHERE id = %s AND booked < capacity", [slot_id])
        return cur.rowcount == 1


def _check_slot(slot: Slot, service: Service) -> None:
    now = timezone.now()
    if slot.starts_at <= now:
        raise LivelihoodError("slot: this time has already passed", field="slot", code="slot_past")
    if slot.starts_at > now + timedelta(days=MAX_BOOKING_DAYS):
        raise LivelihoodError(
            f"slot: bookings open at most {MAX_BOOKING_DAYS} days ahead", field="slot", code="slot_too_far"
        )
    if slot.service_id not in (None, service.id):
        raise LivelihoodError("slot: this slot is for another service", field="slot", code="slot_service")
    if not slot.office.is_active:
        raise LivelihoodError("slot: the office is closed", field="slot", code="office_closed")
    if not slot.office.services.filter(pk=service.pk).exists():
        raise LivelihoodError("service: this office does not handle the service", field="service")
    if (
        Holiday.objects.filter(date=timezone.localtime(slot.starts_at).date())
        .filter(office_id__in=[slot.office_id])
        .exists()
        or Holiday.objects.filter(date=timezone.localtime(slot.starts_at).date(), office__isnull=True).exists()
    ):
        raise LivelihoodError("slot: the office is closed that day (holiday)", field="slot", code="outside_hours")


# The whole booking in one statement: a place is claimed only if one is left, the slot is in the
# future and within the booking window, it is for this service (or any), the office is open, offers
# the service and has no holiday that day; the appointment is inserted from the claim. PostgreSQL
# serialises concurrent updates of the slot row and re-checks `booked < capacity` on the newest
# version, so the loser of the last place claims nothing (409). The statement also says whether
# the slot was otherwise bookable, so a full slot is refused without further queries; only the
# other refusals run the separate checks, to name their reason. The datahub event is written by the
# same statement (the facade's event INSERT as a CTE), which runs on its own (autocommit): a
# booking is one round trip with its commit, where it was three (statement, event INSERT, COMMIT);
# all of it commits or none. Inside a caller's transaction it simply joins it.
_BOOK_SQL = """
    WITH s AS (
        SELECT s.id, s.office_id, s.starts_at, o.area_id, o.code,
               s.starts_at > now() AND s.starts_at <= now() + make_interval(days => %(days)s)
               AND (s.service_id IS NULL OR s.service_id = %(service)s)
               AND o.is_active
               AND EXISTS (SELECT 1 FROM livelihood_office_services os
                           WHERE os.office_id = o.id AND os.service_id = %(service)s)
               AND NOT EXISTS (SELECT 1 FROM livelihood_holiday h
                               WHERE h.date = (s.starts_at AT TIME ZONE %(tz)s)::date
                                 AND (h.office_id IS NULL OR h.office_id = o.id)) AS bookable
        FROM livelihood_slot s JOIN livelihood_office o ON o.id = s.office_id
        WHERE s.id = %(slot)s
    ), claim AS (
        UPDATE livelihood_slot t SET booked = t.booked + 1 FROM s
        WHERE t.id = s.id AND s.bookable AND t.booked < t.capacity
        RETURNING t.id
    ), appt AS (
        INSERT INTO livelihood_appointment (code, token, slot_id, office_id, service_id, citizen_id, name, phone,
                                            email, status, queue_number, created_at, checked_in_at, served_at,
                                            reminded_at, cancelled_at, cancel_reason, cancel_note)
        SELECT %(code)s, %(token)s, claim.id, s.office_id, %(service)s, %(citizen)s, %(name)s, %(phone)s,
               %(email)s, %(status)s, NULL, %(now)s, NULL, NULL, NULL, NULL, '', ''
        FROM claim, s
        RETURNING id
    ), ev AS (
        {event_insert}
        SELECT 'livelihood.appointment_booked', %(now)s, %(now)s, s.area_id, %(citizen)s,
               'livelihood:appointment:' || appt.id,
               jsonb_build_object('office', s.code, 'service_id', %(service)s, 'starts_at', s.starts_at)
        FROM appt, s
        RETURNING id
    )
    SELECT (SELECT id FROM appt), s.bookable, s.office_id, s.starts_at, s.area_id, s.code, (SELECT id FROM ev) FROM s
"""


_BOOK_PARAMS = (
    ("slot", "bigint"),
    ("service", "bigint"),
    ("days", "int"),
    ("tz", "text"),
    ("code", "text"),
    ("token", "text"),
    ("citizen", "bigint"),
    ("name", "text"),
    ("phone", "text"),
    ("email", "text"),
    ("status", "text"),
    ("now", "timestamptz"),
)
_BOOK_PREPARED = "livelihood_appointment_book"


@functools.cache
def _book_sql() -> str:
    return _BOOK_SQL.replace("{event_insert}", facade.event_insert_sql())


@functools.cache
def _book_prepare_sql() -> str:
    sql = _book_sql()
    for n, (name, _type) in enumerate(_BOOK_PARAMS, start=1):
        sql = sql.replace(f"%({name})s", f"${n}")
    types = ", ".join(t for _n, t in _BOOK_PARAMS)
    return f"PREPARE {_BOOK_PREPARED} ({types}) AS {sql}"


_BOOK_EXECUTE = f"EXECUTE {_BOOK_PREPARED} ({', '.join(f'%({n})s' for n, _t in _BOOK_PARAMS)})"


def _book_execute(cur, params: dict) -> tuple | None:
    """Run the booking statement as a server-side prepared statement, prepared once per database
    connection: parsing and planning the five-CTE statement cost ~0.4 ms of the server's ~1 ms per
    booking, and after five executions PostgreSQL keeps a generic plan. A new connection (Django's
    reconnects, CONN_MAX_AGE) prepares again; a prepared statement outlives a rollback. (Behind a
    transaction-mode pooler, which moves sessions between clients, this would need its session mode.)"""
    raw = connection.connection
    if getattr(connection, "_livelihood_book_prepared_on", None) is not raw:
        cur.execute(_book_prepare_sql())
        connection._livelihood_book_prepared_on = raw
    cur.execute(_BOOK_EXECUTE, params)
    return cur.fetchone()


def appointment_book(
    *, slot_id: int, service_id: int, name: str, phone: str = "", email: str = "", citizen=None
) -> Appointment:
    """Book a place: 404 unknown slot, 400 past/outside hours (with the reason), 409 full."""
    if not name.strip():
        raise LivelihoodError("name is required", field="name")
    if not (phone or email):
        raise LivelihoodError("phone or email is required to reach you", field="phone")
    appt = Appointment(
        code=_code(),
        token=secrets.token_urlsafe(24),
        slot_id=slot_id,
        service_id=service_id,
        citizen=citizen if getattr(citizen, "pk", None) else None,
        name=name.strip()[:100],
        phone=phone[:32],
        email=email,
        status=AppointmentStatus.BOOKED,
        created_at=timezone.now(),
    )
    with connection.cursor() as cur:
        row = _book_execute(
            cur,
            {
                "slot": slot_id,
                "service": service_id,
                "days": MAX_BOOKING_DAYS,
                "tz": settings.TIME_ZONE,
                "code": appt.code,
                "token": appt.token,
                "citizen": appt.citizen_id,
                "name": appt.name,
                "phone": appt.phone,
                "email": appt.email,
                "status": appt.status,
                "now": appt.created_at,
            },
        )
    if row is None or row[0] is None:
        if row is not None and row[1]:  # bookable but not claimed: no place left
            raise SlotFull("slot: this slot is fully booked", field="slot")
        _refusal(slot_id, service_id)
    appt.id, _bookable, appt.office_id, starts_at, area_id, _office_code, event_id = row
    appt._state.adding, appt._state.db = False, "default"
    facade.event_recorded_publish(
        event_id=event_id, type="livelihood.appointment_booked", area_id=area_id, occurred_at=appt.created_at
    )
    return appt


def _refusal(slot_id: int, service_id: int):
    """Why the claim updated nothing: the first failing rule, as a 404/400 with its reason, else 409 full."""
    slot = Slot.objects.select_related("office").filter(pk=slot_id).first()
    if slot is None:
        raise LivelihoodError("slot: no such slot", field="slot", status=404, code="not_found")
    service = Service.objects.filter(pk=service_id).first()
    if service is None:
        raise LivelihoodError("service: no such service", field="service", status=404, code="not_found")
    _check_slot(slot, service)
    raise SlotFull("slot: this slot is fully booked", field="slot")


def _release(slot_id: int) -> None:
    Slot.objects.filter(pk=slot_id, booked__gt=0).update(booked=F("booked") - 1)


@transaction.atomic
def appointment_cancel(*, appointment_id: int, actor=None) -> Appointment:
    appt = Appointment.objects.select_for_update().select_related("office").get(pk=appointment_id)
    if appt.status != AppointmentStatus.BOOKED:
        raise LivelihoodError(
            f"status: a {appt.get_status_display()} appointment cannot be cancelled", field="status", status=409
        )
    appt.status = AppointmentStatus.CANCELLED
    appt.cancelled_at, appt.cancel_reason = timezone.now(), CancelReason.CITIZEN
    appt.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    _release(appt.slot_id)
    facade.event_record(
        type="livelihood.appointment_cancelled",
        area_id=appt.office.area_id,
        object_ref=f"livelihood:appointment:{appt.id}",
        actor_id=getattr(actor, "pk", None),
    )
    return appt


@transaction.atomic
def appointment_reschedule(*, appointment_id: int, slot_id: int, actor=None) -> Appointment:
    """Move to another slot: the new place is claimed first (409 if full), then the old one released."""
    appt = Appointment.objects.select_for_update().select_related("service").get(pk=appointment_id)
    if appt.status != AppointmentStatus.BOOKED:
        raise LivelihoodError("status: only a booked appointment can be moved", field="status", status=409)
    slot = Slot.objects.select_related("office").filter(pk=slot_id).first()
    if slot is None:
        raise LivelihoodError("slot: no such slot", field="slot", status=404, code="not_found")
    if slot.id == appt.slot_id:
        return appt
    _check_slot(slot, appt.service)
    if not _claim_place(slot.id):
        raise SlotFull("slot: this slot is fully booked", field="slot")
    old = appt.slot_id
    appt.slot, appt.office, appt.reminded_at = slot, slot.office, None
    appt.save(update_fields=["slot", "office", "reminded_at"])
    _release(old)
    facade.event_record(
        type="livelihood.appointment_rescheduled",
        area_id=slot.office.area_id,
        object_ref=f"livelihood:appointment:{appt.id}",
        actor_id=getattr(actor, "pk", None),
        payload={"starts_at": slot.starts_at.isoformat()},
    )
    return appt


_COUNTER_STEPS = {
    "check_in": ({AppointmentStatus.BOOKED}, AppointmentStatus.CHECKED_IN),
    "serve": ({AppointmentStatus.CHECKED_IN}, AppointmentStatus.SERVING),
    "done": ({AppointmentStatus.SERVING}, AppointmentStatus.SERVED),
    "no_show": ({AppointmentStatus.BOOKED}, AppointmentStatus.NO_SHOW),
}


@transaction.atomic
def appointment_counter(*, appointment_id: int, action: str, actor=None) -> Appointment:
    """A counter officer's step: check in (takes a queue number), serve, done, no-show."""
    if action not in _COUNTER_STEPS:
        raise LivelihoodError(f"action: one of {', '.join(_COUNTER_STEPS)}", field="action")
    appt = Appointment.objects.select_for_update().select_related("office", "slot").get(pk=appointment_id)
    allowed, target = _COUNTER_STEPS[action]
    if appt.status not in allowed:
        raise LivelihoodError(
            f"action: cannot {action} an appointment that is {appt.get_status_display()}", field="action", status=409
        )
    now = timezone.now()
    appt.status = target
    if action == "check_in":
        day = timezone.localtime(appt.slot.starts_at).date()
        last = Appointment.objects.filter(office_id=appt.office_id, slot__starts_at__date=day).aggregate(
            m=Max("queue_number")
        )["m"]
        appt.queue_number = (last or 0) + 1
        appt.checked_in_at = now
    if action == "done":
        appt.served_at = now
    appt.save()
    facade.event_record(
        type=f"livelihood.appointment_{target}",
        area_id=appt.office.area_id,
        object_ref=f"livelihood:appointment:{appt.id}",
        actor_id=getattr(actor, "pk", None),
        payload={"office": appt.office.code},
    )
    return appt


def appointments_remind(*, within_hours: int = 24) -> int:
    """E-mail a reminder for each booked appointment starting within `within_hours` (once: claimed by a
    conditional update, so two beat runs never send twice)."""
    now = timezone.now()
    due = Appointment.objects.filter(
        status=AppointmentStatus.BOOKED,
        reminded_at__isnull=True,
        slot__starts_at__gt=now,
        slot__starts_at__lte=now + timedelta(hours=within_hours),
    ).exclude(email="")
    sent = 0
    for appt in due.select_related("slot", "office", "service")[:2000]:
        if not Appointment.objects.filter(pk=appt.pk, reminded_at__isnull=True).update(reminded_at=now):
            continue
        when = timezone.localtime(appt.slot.starts_at).strftime("%Y-%m-%d %H:%M")
        send_mail(
            _("Reminder: your appointment %(code)s") % {"code": appt.code},
            _("%(service)s at %(office)s, %(when)s. Confirmation code: %(code)s.")
            % {"service": appt.service.name, "office": appt.office.name, "when": when, "code": appt.code},
            settings.DEFAULT_FROM_EMAIL,
            [appt.email],
            fail_silently=True,
        )
        sent += 1
    return sent


def office_create(*, code: str, name: str, department_id: int, service_ids: list[int], **fields) -> Office:
    office, _ = Office.objects.update_or_create(
        code=code, defaults={"name": name, "department_id": department_id, **fields}
    )
    office.services.set(service_ids)
    return office
