"""Pull connectors against a real local HTTP server serving real feed files."""

import time

import pytest
from django_celery_beat.models import PeriodicTask

from datahub.models import Document, FeedState, Run
from datahub.text.connectors.http import HttpConfig, rate_limit_wait
from datahub.text.services.internet import source_fetch, source_schedule
from tests.datahub.feedserver import FeedServer
from tests.datahub.text.factories import make_places, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


def _rss(server, path, **config):
    return make_source(config={"url": f"{server.url}{path}", **config})


def test_it_stores_a_valid_rss_feed_with_lineage_and_places(server):
    places = make_places()
    source = _rss(server, "/valid.xml")
    run = source_fetch(source_id=source.id)
    assert run.status == Run.Status.SUCCEEDED
    assert (run.rows_read, run.rows_stored) == (3, 3)
    doc = Document.objects.get(source=source, external_id="bbs-1001")
    assert doc.run_id == run.id
    assert doc.language == "zh" and doc.author == "张先生"
    assert "<b>" not in doc.body and "堵得水泄不通" in doc.body
    assert doc.published_at.isoformat() == "2026-11-23T00:30:00+00:00"
    assert doc.area_id == places["changan"].id and doc.district_id == places["jiangnan"].id
    assert Document.objects.get(external_id="bbs-1003").language == "en"


def test_it_stores_an_atom_feed(server):
    source = _rss(server, "/atom.xml")
    run = source_fetch(source_id=source.id)
    assert run.status == Run.Status.SUCCEEDED and run.rows_stored == 2
    doc = Document.objects.get(external_id="urn:binjiang:news:2001")
    assert doc.author == "City desk" and doc.url == "https://news.binjiang.example/2001"
    assert "signal failure" in doc.body


def test_it_stores_the_same_items_once_and_sends_conditional_requests(server):
    source = _rss(server, "/valid.xml")
    source_fetch(source_id=source.id)
    state = FeedState.objects.get(source=source)
    assert state.etag == '"v1"' and state.last_modified == "Mon, 23 Nov 2026 02:00:00 GMT"
    second = source_fetch(source_id=source.id)
    assert second.status == Run.Status.SUCCEEDED and second.rows_read == 0  # 304 Not Modified
    assert FeedState.objects.get(source=source).last_status_code == 304
    # Without validators the server sends everything again: nothing is stored twice.
    FeedState.objects.filter(source=source).update(etag="", last_modified="")
    third = source_fetch(source_id=source.id)
    assert (third.rows_read, third.rows_stored) == (3, 0)
    assert Document.objects.filter(source=source).count() == 3


def test_it_keeps_what_it_can_of_a_malformed_feed(server):
    source = _rss(server, "/malformed.xml")
    run = source_fetch(source_id=source.id)
    assert run.status == Run.Status.PARTIAL
    assert run.errors[0]["code"] == "malformed_feed"
    assert run.rows_stored >= 1
    assert Document.objects.filter(source=source, title__contains="油烟").exists()


def test_it_fails_a_page_that_is_not_a_feed(server):
    source = _rss(server, "/not-a-feed")
    run = source_fetch(source_id=source.id)
    assert run.status == Run.Status.FAILED
    assert run.errors[0]["code"] == "not_a_feed"
    assert FeedState.objects.get(source=source).consecutive_failures == 1


@pytest.mark.parametrize("path", ["/gbk-declared.xml", "/gbk-undeclared.xml", "/gbk-mislabelled.xml"])
def test_it_decodes_gbk_feeds_whether_declared_or_not(server, path):
    source = _rss(server, path)
    run = source_fetch(source_id=source.id)
    assert run.rows_stored == 3, run.errors
    assert Document.objects.get(source=source, external_id="bbs-1002").title == "滨湖区和平街道自来水发黄"


def test_it_refuses_a_body_over_the_size_limit(server):
    source = _rss(server, "/huge.xml", max_bytes=1_000_000)
    run = source_fetch(source_id=source.id)
    assert run.status == Run.Status.FAILED
    assert run.errors[0]["code"] == "too_large" and "1000000" in run.errors[0]["message"]
    assert not Document.objects.filter(source=source).exists()


def test_it_follows_redirects_up_to_the_limit(server):
    ok = _rss(server, "/redirect/2", max_redirects=5)
    assert source_fetch(source_id=ok.id).rows_stored == 3
    loop = _rss(server, "/loop", max_redirects=3)
    run = source_fetch(source_id=loop.id)
    assert run.status == Run.Status.FAILED and run.errors[0]["code"] == "too_many_redirects"


def test_it_times_out_a_slow_server_after_its_retries(server):
    source = _rss(server, "/slow.xml", timeout_s=0.3, retries=1, backoff_s=0.05)
    started = time.monotonic()
    run = source_fetch(source_id=source.id)
    assert time.monotonic() - started < 1.9  # did not wait for the 2 s response
    assert run.status == Run.Status.FAILED and run.errors[0]["code"] == "timeout"
    assert "after 2 attempts" in run.errors[0]["message"]
    assert server.hits["/slow.xml"] == 2


def test_it_retries_a_server_error_with_backoff(server):
    source = _rss(server, "/flaky.xml", retries=2, backoff_s=0.2)
    run = source_fetch(source_id=source.id)
    assert run.status == Run.Status.SUCCEEDED and run.rows_stored == 3
    t = server.times["/flaky.xml"]
    assert len(t) == 2 and t[1] - t[0] >= 0.2


def test_it_does_not_retry_a_client_error(server):
    run = source_fetch(source_id=_rss(server, "/gone.xml", retries=3).id)
    assert run.status == Run.Status.FAILED and "HTTP 404" in run.errors[0]["message"]
    assert server.hits["/gone.xml"] == 1


def test_it_spaces_requests_of_one_source_by_its_rate_limit():
    rate_limit_wait("test-rate", 0.3)
    waited = rate_limit_wait("test-rate", 0.3)
    assert 0.15 < waited < 0.6


def test_it_pages_a_json_api_by_page_number_with_a_field_mapping(server):
    mapping = {
        "id": "pid",
        "title": "headline",
        "body": "content.text",
        "author": "user.nick",
        "published": "ts",
        "url": "link",
    }
    source = make_source(
        connector="json_api",
        config={
            "url": f"{server.url}/api/pages",
            "items_path": "data.posts",
            "mapping": mapping,
            "paging": {"type": "page", "param": "page", "start": 1, "max_pages": 10},
        },
    )
    run = source_fetch(source_id=source.id)
    assert run.rows_stored == 6 and server.hits["/api/pages"] == 4  # the 4th page was empty
    doc = Document.objects.get(source=source, external_id="p2-1")
    assert doc.title.startswith("第2页帖子1") and doc.author == "u1" and doc.url == "https://api.example/p/2/1"
    assert int(doc.published_at.timestamp()) == 1795400000 + 201


def test_it_pages_a_json_api_by_next_link(server):
    source = make_source(
        connector="json_api",
        config={
            "url": f"{server.url}/api/next",
            "items_path": "data.posts",
            "mapping": {"id": "pid", "title": "headline", "body": "content.text", "published": "ts"},
            "paging": {"type": "next", "next_path": "links.next", "max_pages": 10},
        },
    )
    run = source_fetch(source_id=source.id)
    assert run.rows_stored == 6 and server.hits["/api/next"] == 3


def test_it_fails_a_json_api_that_answers_html(server):
    source = make_source(connector="json_api", config={"url": f"{server.url}/api/notjson"})
    run = source_fetch(source_id=source.id)
    assert run.status == Run.Status.FAILED and run.errors[0]["code"] == "bad_payload"


def test_it_schedules_one_periodic_task_per_source_idempotently(server):
    source = _rss(server, "/valid.xml")
    source_schedule(source_id=source.id, every_minutes=10)
    source_schedule(source_id=source.id, every_minutes=10)
    tasks = PeriodicTask.objects.filter(name=f"datahub.fetch_source:{source.code}")
    assert tasks.count() == 1
    task = tasks.get()
    assert task.task == "datahub.fetch_source" and task.args == f"[{source.id}]" and task.interval.every == 10
    source.refresh_from_db()
    assert source.schedule_id == task.id


def test_the_config_reader_ignores_unknown_keys():
    cfg = HttpConfig.from_config({"timeout_s": 3, "url": "x", "nonsense": 1})
    assert cfg.timeout_s == 3 and cfg.max_redirects == 5


def test_it_does_not_pull_an_inactive_source_or_one_already_being_pulled(server):
    from django.core.cache import cache

    source = _rss(server, "/valid.xml")
    cache.add(f"datahub:fetch:{source.id}", 1, timeout=60)
    assert source_fetch(source_id=source.id) is None
    cache.delete(f"datahub:fetch:{source.id}")
    source.is_active = False
    source.save()
    assert source_fetch(source_id=source.id) is None
    assert not Run.objects.filter(source=source).exists() and "/valid.xml" not in server.hits
