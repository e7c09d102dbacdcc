"""Items with dates (a scheduled or expiring notice) are found only while current: the dates are
columns of the index row, compared with the statement's time in every query, so a date passing
needs no reindex."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from datahub.search import selectors

from .conftest import item


def found(user, q: str) -> tuple[list[str], int]:
    r = selectors.search(user=user, req=selectors.SearchRequest(q=q, understand=False))
    return [x["id"] for x in r["results"]], r["count"]


def test_expired_and_future_items_are_neither_found_counted_nor_suggested(city, index):
    now = timezone.now()
    index(
        [
            item(key="old", title="停水通知旧", valid_until=now - timedelta(minutes=1)),
            item(key="next", title="停水通知新", valid_from=now + timedelta(hours=1)),
            item(
                key="now", title="停水通知今", valid_from=now - timedelta(hours=1), valid_until=now + timedelta(hours=1)
            ),
            item(key="always", title="停水通知常"),
        ]
    )
    for user in (city.leader, city.officer, city.developer):
        keys, count = found(user, "停水通知")
        assert set(keys) == {"now", "always"} and count == 2
        assert {s["id"] for s in selectors.suggest(user=user, q="停水")} == {"now", "always"}


def test_a_bad_date_is_refused_by_name(city, index):
    from datahub.search.services import SearchItemError

    with pytest.raises(SearchItemError, match="item 1: valid_until must be an aware datetime"):
        index([item(key="x", valid_until="2026-01-01")])


@pytest.mark.django_db(transaction=True)
def test_a_scheduled_notice_comes_out_and_expires_without_a_reindex(city):
    from livelihood.services.notices import notice_save, notice_set_status

    start = timezone.now()
    n = notice_save(
        department_id=city.env.id,
        title="计划停电通知",
        body="检修线路",
        publish_at=start + timedelta(seconds=2),
        expires_at=start + timedelta(seconds=4),
    )
    notice_set_status(notice_id=n.id, status="published")
    assert found(city.developer, "计划停电")[0] == []  # indexed, not out yet
    time.sleep(max(0.0, (start + timedelta(seconds=2.2) - timezone.now()).total_seconds()))
    assert found(city.developer, "计划停电")[0] == [str(n.id)]
    assert [s["id"] for s in selectors.suggest(user=city.developer, q="jihuatingdian")] == [str(n.id)]
    time.sleep(max(0.0, (start + timedelta(seconds=4.2) - timezone.now()).total_seconds()))
    assert found(city.developer, "计划停电") == ([], 0)  # expired, with no save and no reindex
