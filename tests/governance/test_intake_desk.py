"""The 12345 intake desk: suggestions while a call is taken, caller history, duplicates, the map's
address search, and calls answered on the spot from the knowledge base (直接答复)."""

import pytest

from datahub import facade
from governance.models import Case, CaseTransition, KnowledgeArticle
from governance.services.cases import case_create
from governance.services.errors import CaseError
from governance.services.knowledge import answered_directly_count, case_answer_directly, kb_search

pytestmark = pytest.mark.django_db


@pytest.fixture
def article(city):
    return KnowledgeArticle.objects.create(
        question="居住证怎么办理？",
        question_en="How do I apply for a residence permit?",
        answer="携带身份证和租房合同到所在街道便民服务中心办理，5个工作日出证。",
        keywords="居住证,暂住证,residence permit",
    )


@pytest.fixture
def desk(client, city):
    client.force_login(city.dispatcher)
    return client


def test_it_finds_knowledge_base_answers_by_keyword_and_by_question_words(article):
    assert [h.id for h in kb_search(text="你好，我想问一下居住证在哪里办")] == [article.id]
    assert [h.id for h in kb_search(text="where can I get a residence permit")] == [article.id]
    assert kb_search(text="路灯坏了") == []


def test_a_call_answered_from_the_knowledge_base_is_closed_and_counted(city, article):
    before = answered_directly_count()
    case = case_answer_directly(
        article_id=article.id, title="咨询居住证办理", reporter_phone="13800001234", actor=city.dispatcher
    )
    assert case.status == "closed" and case.department_id is None and case.closed_at is not None
    step = case.transitions.get(action="answer")
    assert step.from_status == "received" and step.data["article_id"] == article.id
    assert "便民服务中心" in step.note
    assert answered_directly_count() == before + 1
    article.refresh_from_db()
    assert article.times_used == 1


def test_only_the_hotline_may_answer_a_call_directly(city, article):
    with pytest.raises(CaseError):
        case_answer_directly(article_id=article.id, title="咨询居住证", actor=city.officer)
    assert not CaseTransition.objects.filter(action="answer").exists()


def test_the_desk_suggests_category_department_duplicates_history_and_answers(desk, city, article):
    earlier = case_create(
        channel="hotline", title="酒吧噪音扰民", lon=city.P1[0], lat=city.P1[1], reporter_phone="13800009999"
    )
    resp = desk.get(
        "/governance/intake/suggest/",
        {
            "title": "楼下酒吧噪音很吵，顺便问下居住证",
            "lon": city.P1[0] + 0.0005,
            "lat": city.P1[1],
            "reporter_phone": "138-0000-9999",
        },
    )
    body = resp.content.decode()
    assert resp.status_code == 200
    assert f'data-category="{city.noise.id}"' in body and 'class="confidence"' in body
    assert f'data-use-department="{city.urban.id}"' in body
    assert f'data-duplicate="{earlier.id}"' in body
    assert f'data-history="{earlier.id}"' in body
    assert f'data-answer="{article.id}"' in body


def test_the_desk_receives_a_case_at_the_picked_point(desk, city):
    resp = desk.post(
        "/governance/intake/",
        {"title": "路边垃圾堆积", "priority": "normal", "lon": city.P2[0], "lat": city.P2[1], "mode": "receive"},
    )
    case = Case.objects.get(title="路边垃圾堆积")
    assert resp.status_code == 302 and case.grid_id == city.grid2.id
    assert (round(case.location.x, 4), round(case.location.y, 4)) == city.P2


def test_the_desk_dispatches_to_the_department_the_operator_confirmed(desk, city):
    desk.post(
        "/governance/intake/",
        {"title": "路边垃圾堆积", "priority": "normal", "department": city.env.id, "mode": "receive"},
    )
    case = Case.objects.get(title="路边垃圾堆积")
    assert case.status == "dispatched" and case.department_id == city.env.id


def test_the_desk_closes_a_call_with_a_direct_answer_and_counts_it(desk, city, article):
    resp = desk.post(
        "/governance/intake/",
        {"title": "咨询居住证", "priority": "normal", "article": article.id, "mode": "answer"},
        follow=True,
    )
    case = Case.objects.get(title="咨询居住证")
    assert case.status == "closed"
    assert resp.context["today"]["answered"] == 1
    assert 'id="answered-today">1<' in resp.content.decode()


def test_half_a_point_is_refused_with_a_message(desk, city):
    resp = desk.post("/governance/intake/", {"title": "噪音", "priority": "normal", "lon": 120.0})
    assert resp.status_code == 200 and not Case.objects.exists()
    assert resp.context["form"].non_field_errors()


def test_the_address_search_finds_the_citys_areas_and_addresses(desk, city):
    found = facade.place_search(query="长安街道12号")
    assert found[0]["kind"] == "address" and found[0]["id"] == city.street.id
    data = desk.get("/governance/intake/places/", {"q": "长安"}).json()["results"]
    assert any("长安街道" in r["label"] for r in data)
    assert all(-180 <= r["lon"] <= 180 and -90 <= r["lat"] <= 90 for r in data)


def test_hotline_staff_edit_the_knowledge_base_and_others_only_search_it(client, city, article):
    client.force_login(city.dispatcher)
    resp = client.post(
        "/governance/knowledge/",
        {"question": "路灯坏了找谁？", "answer": "拨打12345或在随手拍上报。", "keywords": "路灯", "is_active": "on"},
    )
    assert resp.status_code == 302 and KnowledgeArticle.objects.filter(question="路灯坏了找谁？").exists()
    body = client.get("/governance/knowledge/", {"q": "居住证"}).content.decode()
    assert f'data-article="{article.id}"' in body
    client.force_login(city.officer)
    assert client.get("/governance/knowledge/").status_code == 200
    assert client.post("/governance/knowledge/", {"question": "x", "answer": "y"}).status_code == 403


def test_the_base_map_serves_the_citys_own_areas(client, city):
    from django.core.cache import cache

    cache.delete("cityos:basemap:v1")
    data = client.get("/map/base.geojson").json()
    layers = {f["properties"]["layer"] for f in data["features"]}
    assert layers >= {"district", "street"}
