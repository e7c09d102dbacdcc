"""The bulk path (benchmark, demo, reindex): batches prepared in worker processes, one COPY into the
stage and one INSERT … ON CONFLICT per batch, suggestions written with their items."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from datahub.models import SearchItem, SearchSuggestion
from datahub.search import selectors, services

from .conftest import item


def _items(n: int, title: str, **kw) -> list[dict]:
    return [
        item(kind="record", key=str(i), title=f"{title}{i}", body=f"第{i}号 记录", level="restricted", **kw)
        for i in range(n)
    ]


def _bulk(batches, workers: int) -> int:
    done = 0
    for rows, vocab, n in services.prepared_batches(iter(batches), workers=workers):
        services.index_rows_direct(rows, vocab)
        done += n
    return done


def _snapshot() -> tuple[list, list]:
    with connection.cursor() as cur:
        cur.execute("SELECT kind, key, title, level, dept_path, grants, tsv::text FROM datahub_searchitem ORDER BY key")
        items = cur.fetchall()
    sugg = sorted(SearchSuggestion.objects.values_list("item__key", "term", "weight", "level", "dept_path"))
    return items, sugg


def test_worker_processes_write_what_the_one_by_one_path_writes(city, index):
    batches = [_items(30, "滨江科技有限公司", department_id=city.env.id)[i : i + 7] for i in range(0, 30, 7)]
    index([x for b in batches for x in b])
    one_by_one = _snapshot()
    SearchItem.objects.all().delete()
    assert _bulk(batches, workers=1) == 30
    assert _snapshot() == one_by_one
    assert SearchSuggestion.objects.count() >= 30 * 4  # the title, its word starts, pinyin, initials


def test_a_bulk_rerun_updates_in_place_and_moves_the_suggestions(city):
    _bulk([_items(20, "旧名称公司", department_id=city.env.id)], workers=0)
    ids = dict(SearchItem.objects.values_list("key", "id"))
    _bulk([_items(20, "新名称公司", department_id=city.transport.id)], workers=0)
    assert dict(SearchItem.objects.values_list("key", "id")) == ids  # the same rows, updated
    assert selectors.suggest(user=city.leader, q="旧名称") == []
    assert len(selectors.suggest(user=city.leader, q="新名称", limit=20)) == 20
    assert selectors.suggest(user=city.officer, q="新名称") == []  # now another department's
    # The pinyin of the 20 titles is one term (digits have none): one completion, visible to them.
    assert [s["title"][:5] for s in selectors.suggest(user=city.transport_officer, q="xinmingcheng")] == ["新名称公司"]
    r = selectors.search(user=city.transport_officer, req=selectors.SearchRequest(q="新名称", understand=False))
    assert r["count"] == 20


def test_a_batch_keeps_the_last_version_of_a_repeated_item_and_its_dates(city):
    until = timezone.now() + timedelta(days=1)
    _bulk([[item(key="a", title="第一版"), item(key="a", title="第二版", valid_until=until)]], workers=0)
    row = SearchItem.objects.get(key="a")
    assert (row.title, row.valid_until) == ("第二版", until)
    assert set(SearchSuggestion.objects.values_list("valid_until", flat=True)) == {until}


@pytest.mark.django_db(transaction=True)
def test_two_writer_connections_write_what_one_writes_and_rerun_in_place():
    # Outside a transaction write_batches writes consecutive batches on two connections at once.
    batches = [_items(40, "滨江物流有限公司")[i : i + 6] for i in range(0, 40, 6)]
    assert services.write_batches(services.prepared_batches(iter(batches), workers=0), writers=1) == 40
    one_writer = _snapshot()
    SearchItem.objects.all().delete()
    assert SearchSuggestion.objects.count() == 0
    assert services.write_batches(services.prepared_batches(iter(batches), workers=1), writers=2) == 40
    assert _snapshot() == one_writer
    ids = dict(SearchItem.objects.values_list("key", "id"))
    assert services.write_batches(services.prepared_batches(iter(batches), workers=1), writers=2) == 40
    assert dict(SearchItem.objects.values_list("key", "id")) == ids  # updated in place
    assert _snapshot() == one_writer  # the suggestions of each item once, not twice


@pytest.mark.django_db(transaction=True)
def test_live_indexing_waits_for_the_flush_and_a_bulk_load_ends_with_a_synchronous_commit():
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        services.search_index_upsert(_items(3, "滨江花园"))
    assert statements and not any("synchronous_commit" in s for s in statements)
    statements.clear()
    with connection.execute_wrapper(record):  # one writer: batches on this connection, then the flush
        services.write_batches(services.prepared_batches(iter([_items(4, "滨江小区")]), workers=0), writers=1)
    assert not any("synchronous_commit = off" in s for s in statements)  # in-line path: durable batches
    statements.clear()
    with connection.execute_wrapper(record):  # two writers: asynchronous batches on their threads, then the flush
        services.write_batches(services.prepared_batches(iter([_items(4, "滨江公寓")]), workers=0), writers=2)
    assert statements[-1] == "SELECT txid_current()"
    assert SearchItem.objects.filter(title__startswith="滨江公寓").count() == 4
