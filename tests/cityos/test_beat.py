"""Every app's periodic jobs go through cityos.beat: created once, idempotent, an admin's edit kept."""

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from cityos.beat import beat_jobs_ensure
from datahub.analysis.services import schedule as analysis_schedule
from governance.services import schedule as governance_schedule
from industry.services import schedule as industry_schedule
from livelihood.services import schedule as livelihood_schedule

pytestmark = pytest.mark.django_db

SCHEDULES = [analysis_schedule, governance_schedule, industry_schedule, livelihood_schedule]


def test_every_apps_jobs_exist_with_their_timing():
    PeriodicTask.objects.filter(name__in=[j[0] for s in SCHEDULES for j in s.JOBS]).delete()
    created = sum(s.beat_schedule_ensure() for s in SCHEDULES)
    assert created == sum(len(s.JOBS) for s in SCHEDULES)
    assert sum(s.beat_schedule_ensure() for s in SCHEDULES) == 0
    sla = PeriodicTask.objects.get(task="governance.sla_scan")
    assert (sla.interval.every, sla.interval.period, sla.crontab) == (5, "minutes", None)
    briefing = PeriodicTask.objects.get(task="datahub.analysis_daily_briefing")
    assert (briefing.crontab.minute, briefing.crontab.hour, str(briefing.crontab.timezone)) == (
        "0",
        "7",
        settings.TIME_ZONE,
    )
    situations = PeriodicTask.objects.get(task="datahub.analysis_detect_situations")
    assert (situations.interval.every, situations.interval.period) == (1, "hours")
    match = PeriodicTask.objects.get(task="industry.match")
    assert (match.crontab.minute, match.crontab.hour) == ("45", "2")


def test_a_job_an_admin_changed_is_left_as_it_is():
    jobs = [("test: nightly", "cityos.test_nightly", {"crontab": ("5", "1")})]
    assert beat_jobs_ensure(jobs) == 1
    job = PeriodicTask.objects.get(name="test: nightly")
    job.enabled = False
    job.crontab.hour = "4"
    job.crontab.save()
    job.save()
    assert beat_jobs_ensure(jobs) == 0
    job.refresh_from_db()
    assert job.enabled is False and job.crontab.hour == "4"
