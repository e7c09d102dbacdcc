"""Public-opinion aggregates, negative spikes as events, and flagging a post as a citizen issue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cityos import bus
from datahub.models import Document, Event
from datahub.text.selectors import (
    internet_source_health,
    opinion_by_area,
    opinion_top_documents,
    opinion_volume_by_topic,
)
from datahub.text.services.documents import RawItem, document_flag, documents_ingest
from datahub.text.services.opinion import SPIKE_EVENT, opinion_detect_spikes
from tests.datahub.text.factories import make_places, make_source
from tests.factories import make_user

pytestmark = pytest.mark.django_db
flagged = []


def _on_flag(payload):
    flagged.append(payload)


def _posts(source, texts_hours):
    now = timezone.now()
    items = [
        RawItem(body=t, published_at=now - timedelta(hours=h), external_id=f"{i}-{h}")
        for i, (t, h) in enumerate(texts_hours)
    ]
    return documents_ingest(source_id=source.id, run_id=None, items=items)


def test_it_counts_volume_by_topic_and_day_and_by_district():
    p = make_places()
    source = make_source(connector="push")
    _posts(source, [("江南区地铁早高峰堵得要命", 1), ("江南区公交车站太挤了", 2), ("滨湖区医院挂号排队三小时", 30)])
    vol = opinion_volume_by_topic(days=3)
    assert sum(r["n"] for r in vol) == 3
    assert sum(r["n"] for r in vol if r["topic"] == "traffic") == 2
    areas = {a["area_id"]: a for a in opinion_by_area(days=3)}
    assert areas[p["jiangnan"].id]["n"] == 2 and areas[p["binhu"].id]["n"] == 1


def test_it_publishes_a_negative_spike_once_per_window():
    p = make_places()
    source = make_source(connector="push")
    burst = [(f"江南区红绿灯坏了没人修，堵死了，太气人了！第{i}次投诉", 0.2 + i * 0.1) for i in range(8)]
    background = [(f"江南区红绿灯坏了没人修，第{i}天", 24 * (1 + i)) for i in range(3)]
    _posts(source, burst + background)
    spikes = opinion_detect_spikes(min_count=5)
    assert [(s.area_id, s.topic, s.count) for s in spikes] == [(p["jiangnan"].id, "traffic", 8)]
    event = Event.objects.get(type=SPIKE_EVENT)
    assert event.area_id == p["jiangnan"].id and event.payload["topic"] == "traffic"
    opinion_detect_spikes(min_count=5)
    assert Event.objects.filter(type=SPIKE_EVENT).count() == 1


def test_it_does_not_call_a_steady_stream_a_spike():
    make_places()
    source = make_source(connector="push")
    steady = [(f"江南区垃圾没人清运，太臭了，第{i}条", h) for i, h in enumerate(range(1, 7 * 24, 2))]
    _posts(source, steady)
    assert opinion_detect_spikes(min_count=2) == []


def test_it_ranks_top_stories_by_reposts():
    source = make_source(connector="push")
    story = "西山区的化工厂又在半夜偷偷排污，整条河都是刺鼻的味道，环保部门快来管管吧"
    _posts(source, [(story, 1), ("转发：" + story, 2), ("//@路人: " + story, 3), ("图书馆周末开放到九点", 1)])
    top = opinion_top_documents(days=2)
    assert top[0].repost_count == 3 and "化工厂" in top[0].body


def test_flagging_publishes_the_citizen_issue_event_once(monkeypatch, django_capture_on_commit_callbacks):
    flagged.clear()
    monkeypatch.setitem(bus._subscribers, "datahub.document_flagged", [*bus.subscribers("datahub.document_flagged"), "tests.datahub.text.test_opinion._on_flag"])  # removed after the test
    p = make_places()
    source = make_source(connector="push")
    res = _posts(source, [("长安街道的井盖丢了，晚上很危险", 1)])
    officer = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        document_flag(document_id=res.document_ids[0], user_id=officer.id)
        document_flag(document_id=res.document_ids[0], user_id=officer.id)
    assert len(flagged) == 1
    payload = flagged[0]
    assert payload["document_id"] == res.document_ids[0] and payload["area_id"] == p["changan"].id
    assert payload["flagged_by_user_id"] == officer.id and payload["topic"] in {"public_safety", "utilities", "traffic"}
    assert set(payload) == {
        "document_id",
        "title",
        "body",
        "url",
        "area_id",
        "lon",
        "lat",
        "flagged_by_user_id",
        "topic",
    }
    assert Document.objects.get(id=res.document_ids[0]).flagged_at is not None


def test_source_health_counts_failed_runs():
    source = make_source(config={"url": "http://127.0.0.1:9/none.xml", "timeout_s": 0.2, "retries": 0})
    from datahub.text.services.internet import source_fetch

    source_fetch(source_id=source.id)
    row = next(r for r in internet_source_health() if r["code"] == source.code)
    assert row["last_run_status"] == "failed" and row["errors_24h"] == 1 and not row["healthy"]
