"""Storing documents and what the pipeline finds in them: duplicates, search, places, entities, reposts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from datahub.models import Area, Document, DocumentArea, DocumentEntity, Run, TopicRule
from datahub.text.nlp import places
from datahub.text.nlp.entities import normalize_name
from datahub.text.selectors import document_search, highlight
from datahub.text.services.documents import RawItem, documents_ingest
from tests.datahub.text.factories import make_entity, make_places, make_source

pytestmark = pytest.mark.django_db


def _ingest(source, *texts, **kw):
    items = [RawItem(title="", body=t, external_id=kw.get("prefix", "x") + str(i)) for i, t in enumerate(texts)]
    run = Run.objects.create(source=source, status="running")
    return documents_ingest(source_id=source.id, run_id=run.id, items=items)


def test_it_stores_an_item_fetched_twice_once():
    source = make_source(connector="push")
    item = RawItem(title="和平街道停水", body="和平街道今天停水", url="https://x.example/1")
    first = documents_ingest(source_id=source.id, run_id=None, items=[item, item])
    second = documents_ingest(source_id=source.id, run_id=None, items=[item])
    assert (first.stored, first.duplicates, second.stored, second.duplicates) == (1, 1, 0, 1)
    assert Document.objects.filter(source=source).count() == 1


def test_it_detects_chinese_and_english():
    source = make_source(connector="push")
    _ingest(source, "地铁二号线早高峰太挤了", "The metro is packed every morning")
    langs = dict(Document.objects.values_list("external_id", "language"))
    assert langs == {"x0": "zh", "x1": "en"}


def test_it_finds_chinese_documents_by_segmented_words():
    source = make_source(connector="push")
    _ingest(source, "长安街道的垃圾中转站臭气熏天", "幼儿园报名什么时候开始", "The garbage station stinks")
    assert [d.external_id for d in document_search(q="垃圾中转站")] == ["x0"]
    assert [d.external_id for d in document_search(q="garbage")] == ["x2"]
    assert document_search(q="报名").count() == 1


def test_it_highlights_query_words_and_escapes_html():
    out = highlight("<script>x</script> 垃圾中转站很臭", ["垃圾"])
    assert "<mark>垃圾</mark>" in out and "<script>" not in out


def test_it_tags_districts_and_streets_by_full_and_short_names():
    p = make_places()
    source = make_source(connector="push")
    _ingest(
        source,
        "江南的长安路口堵车",
        "Water cut in Chang'an again",
        "Heping Subdistrict has new bins",
        "滨湖区和平街道停电",
    )
    docs = {d.external_id: d for d in Document.objects.filter(source=source)}
    assert docs["x0"].area_id == p["changan"].id and docs["x0"].district_id == p["jiangnan"].id
    assert set(DocumentArea.objects.filter(document=docs["x0"]).values_list("area_id", flat=True)) == {
        p["jiangnan"].id,
        p["changan"].id,
    }
    assert docs["x1"].area_id == p["changan"].id
    assert docs["x2"].district_id == p["binhu"].id
    assert DocumentArea.objects.get(document=docs["x3"], area=p["heping"]).mention == "和平街道"


def test_it_sees_a_renamed_area_in_the_next_batch():
    p = make_places()
    places.gazetteer()  # warm the cache
    Area.objects.filter(id=p["binhu"].id).update(name="湖光区")
    Area.objects.get(id=p["binhu"].id).save()  # a save through the ORM invalidates
    source = make_source(connector="push")
    _ingest(source, "湖光区的公园很漂亮")
    assert Document.objects.get(source=source).district_id == p["binhu"].id


def test_it_links_enterprise_and_facility_names_in_full_and_short_form():
    water = make_entity(name="滨江水务集团有限公司", name_en="Binjiang Water Group Co., Ltd.")
    lib = make_entity(name="滨江市图书馆", name_en="Binjiang City Library", type="facility")
    source = make_source(connector="push")
    _ingest(source, "滨江水务又停水了", "Binjiang Water never answers the phone", "滨江市图书馆周末延长开放")
    links = {d: e for d, e in DocumentEntity.objects.values_list("document__external_id", "entity_id")}
    assert links == {"x0": water.id, "x1": water.id, "x2": lib.id}
    assert normalize_name("Binjiang Water Group Co., Ltd.") == "binjiang water"


def test_it_groups_reposts_into_one_cluster():
    source = make_source(connector="push")
    original = "江南区人民路口的红绿灯已经坏了整整三天，早晚高峰堵得水泄不通，请交警部门尽快处理"
    res = _ingest(
        source,
        original,
        "转发：" + original,
        "//@老王: " + original + " http://t.cn/abc",
        "学校食堂的饭菜太难吃了，孩子们都不愿意吃",
    )
    docs = {d.external_id: d for d in Document.objects.filter(id__in=res.document_ids)}
    assert docs["x0"].cluster_id == docs["x0"].id
    assert docs["x1"].cluster_id == docs["x0"].id and docs["x2"].cluster_id == docs["x0"].id
    assert docs["x3"].cluster_id == docs["x3"].id
    later = _ingest(source, "转发 " + original, prefix="later")
    assert Document.objects.get(id=later.document_ids[0]).cluster_id == docs["x0"].id


def test_an_admin_rule_changes_the_topic():
    source = make_source(connector="push")
    text = "星光大道那边的事情大家怎么看"
    _ingest(source, text, prefix="before")
    TopicRule.objects.create(topic="culture", keyword="星光大道", weight=4)
    _ingest(source, text, prefix="after")
    after = Document.objects.get(external_id="after0")
    assert after.topic == "culture" and after.topic_confidence > 0.5


def test_it_rejects_items_without_text_and_keeps_the_rest():
    source = make_source(connector="push")
    res = documents_ingest(source_id=source.id, run_id=None, items=[RawItem(), RawItem(body="停电了")])
    assert (res.stored, res.rejected) == (1, 1)
    assert res.errors[0]["item"] == 1


def test_it_clamps_a_publication_time_in_the_future():
    source = make_source(connector="push")
    documents_ingest(
        source_id=source.id,
        run_id=None,
        items=[RawItem(body="停电了", published_at=timezone.now() + timedelta(days=30))],
    )
    assert Document.objects.get(source=source).published_at <= timezone.now()


def test_it_stores_backslashes_and_line_breaks_verbatim():
    source = make_source(connector="push")
    documents_ingest(source_id=source.id, run_id=None, items=[RawItem(title="C:\\path\\to", body="第一行\\N\n第二行")])
    doc = Document.objects.get(source=source)
    assert (doc.title, doc.body) == ("C:\\path\\to", "第一行\\N\n第二行")
