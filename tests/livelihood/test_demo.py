import time

import pytest
from django.core.management import call_command
from django.db.models import Count

from cityos.demo import STEPS
from cityos.demo.city import DemoContext
from cityos.roles import Role
from datahub.models import Event
from livelihood.models import (
    Appointment,
    Facility,
    Holiday,
    LifeEvent,
    Notice,
    Office,
    Rating,
    Report,
    Service,
    Slot,
)

pytestmark = pytest.mark.django_db


def test_the_demo_city_has_a_livelihood_wing_and_a_second_run_changes_nothing(
    django_user_model, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # domain events reach governance after commit
        call_command("demo_city", "--quiet-logins")

    def counts():
        return [m.objects.count() for m in (Service, LifeEvent, Facility, Office, Slot, Appointment, Notice, Rating)]

    first = counts()
    services, life_events, facilities, offices, slots, appointments, notices, ratings = first
    assert services >= 60 and Service.objects.values("department").distinct().count() >= 8
    assert life_events == 5 and offices == 4
    # The governance demo's holiday calendar reached the offices through its domain event.
    assert Holiday.objects.filter(from_calendar=True, office=None).count() >= 5
    by_type = dict(Facility.objects.values_list("type").annotate(n=Count("id")))
    assert facilities >= 300 and len(by_type) >= 8
    assert Facility.objects.filter(always_open=False).exclude(hours={}).count() > 200
    assert set(Appointment.objects.values_list("status", flat=True)) == {
        "booked", "cancelled", "checked_in", "serving", "served", "no_show"}  # fmt: skip
    assert not Slot.objects.filter(booked__gt=0).extra(where=["booked > capacity"]).exists()
    assert notices >= 6 and ratings >= 300
    dist = dict(Rating.objects.values_list("score").annotate(n=Count("id")))
    assert dist[5] > dist[4] > dist[3] and dist[1] + dist[2] < ratings * 0.15
    assert django_user_model.objects.filter(role=Role.CITIZEN).count() >= 20
    assert Report.objects.exclude(case_number="").count() >= 5  # through governance, by events
    assert Event.objects.filter(type="livelihood.rating_given").count() >= ratings
    # Idempotent, and the step alone stays well inside its ~20 s share of the demo's 2 minutes.
    step = dict(STEPS)["livelihood"]
    t0 = time.perf_counter()
    step(DemoContext(seed=20261124, rng=__import__("random").Random(20261124)))
    assert counts() == first
    assert time.perf_counter() - t0 < 20
