from datetime import date

import pytest

from governance.models import CalendarDay
from governance.services.calendar import add_working_hours, working_hours_between
from tests.governance.factories import local

pytestmark = pytest.mark.django_db


at = local


def test_it_skips_the_weekend():
    # Friday 2026-11-27 17:00 + 4 working hours = Monday 12:00.
    assert add_working_hours(start=at(2026, 11, 27, 17, 0), hours=4) == at(2026, 11, 30, 12, 0)


def test_it_starts_counting_at_nine_when_received_at_night():
    assert add_working_hours(start=at(2026, 11, 24, 22, 0), hours=2) == at(2026, 11, 25, 11, 0)


def test_it_skips_holidays_and_works_make_up_days():
    CalendarDay.objects.create(date=date(2026, 11, 30), kind="holiday", name="test holiday")
    CalendarDay.objects.create(date=date(2026, 11, 28), kind="workday", name="make-up Saturday")
    # Fri 17:00 +1h -> Sat 28 (make-up) 9:00 +3h = 12:00.
    assert add_working_hours(start=at(2026, 11, 27, 17, 0), hours=4) == at(2026, 11, 28, 12, 0)
    # Sat 18:00 (end) -> Sun off, Mon holiday -> Tue 9:00 + 2h.
    assert add_working_hours(start=at(2026, 11, 28, 18, 0), hours=2) == at(2026, 12, 1, 11, 0)


def test_it_counts_working_hours_between_two_moments():
    assert working_hours_between(start=at(2026, 11, 27, 17, 0), end=at(2026, 11, 30, 12, 0)) == pytest.approx(4.0)
