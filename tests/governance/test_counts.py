"""Counts that tell the truth (issue 11, item 14): a heading counts the whole set, not the rows a
page shows; past the cap it says so ("10000+")."""

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.models import Case
from governance.pagination import capped_count

pytestmark = pytest.mark.django_db


def _overdue_cases(n, department):
    now = timezone.now()
    Case.objects.bulk_create(
        Case(
            tracking_number=f"T{i:06d}",
            channel="hotline",
            title=f"超期工单 {i}",
            status="dispatched",
            department=department,
            created_at=now - timedelta(days=5),
            due_at=now - timedelta(hours=1 + i),
        )
        for i in range(n)
    )


def test_the_supervision_board_counts_every_overdue_case_not_the_hundred_it_lists(client, city):
    _overdue_cases(118, city.urban)
    client.force_login(city.dispatcher)
    html = client.get("/governance/supervision/").content.decode()
    assert '<span id="count-overdue">118</span>' in html
    assert html.count("超期工单") == 100  # the list shows the 100 most overdue…
    assert 'id="overdue-more"' in html and "?overdue=true" in html  # …and links to all 118


def test_a_count_past_the_cap_says_so():
    assert capped_count(Case.objects.all(), cap=5) == {"n": 0, "capped": False}

    _overdue_cases(7, None)
    assert capped_count(Case.objects.all(), cap=5) == {"n": 5, "capped": True}
    assert capped_count(Case.objects.all(), cap=7) == {"n": 7, "capped": False}
