import pytest

from datahub.text.services.documents import RawItem, documents_ingest
from tests.datahub.text.factories import make_places, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def docs():
    make_places()
    source = make_source(connector="push")
    items = [RawItem(body=f"江南区长安街道停水第{i}天，没人管", external_id=str(i)) for i in range(12)]
    return documents_ingest(source_id=source.id, run_id=None, items=items)


def test_it_lists_documents_paginated_with_bounded_queries(auth_client, docs, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        resp = auth_client.get("/api/v1/datahub/documents/?page_size=5")
    assert resp.status_code == 200
    assert resp.json()["count"] == 12 and len(resp.json()["results"]) == 5


def test_it_searches_and_filters_documents(auth_client, docs):
    from datahub.models import Document

    topic = Document.objects.get(id=docs.document_ids[0]).topic
    data = auth_client.get("/api/v1/datahub/documents/", {"q": "停水", "topic": topic}).json()
    assert data["count"] >= 1 and all(r["topic"] == topic for r in data["results"])
    assert auth_client.get("/api/v1/datahub/documents/", {"q": "地铁"}).json()["count"] == 0


def test_the_detail_lists_areas_and_duplicates(auth_client, docs):
    data = auth_client.get(f"/api/v1/datahub/documents/{docs.document_ids[0]}/").json()
    assert {a["name"] for a in data["areas"]} == {"江南区", "长安街道"}
    assert "duplicates" in data and "body" in data


def test_it_serves_the_opinion_aggregates(auth_client, docs):
    assert auth_client.get("/api/v1/datahub/opinion/volume/").json()["results"]
    areas = auth_client.get("/api/v1/datahub/opinion/areas/").json()["results"]
    assert sum(a["n"] for a in areas) == 12
    assert auth_client.get("/api/v1/datahub/opinion/volume/", {"days": 0}).status_code == 400


def test_it_flags_a_document_through_the_api(auth_client, docs):
    resp = auth_client.post(f"/api/v1/datahub/documents/{docs.document_ids[0]}/flag/")
    assert resp.status_code == 200 and resp.json()["flagged_at"]


def test_anonymous_users_cannot_read_documents(api_client, docs):
    assert api_client.get("/api/v1/datahub/documents/").status_code in (401, 403)


def test_an_administrator_registers_a_scheduled_feed(api_client):
    from cityos.roles import Role
    from tests.factories import make_user

    api_client.force_authenticate(make_user(role=Role.ADMINISTRATOR))
    resp = api_client.post(
        "/api/v1/datahub/internet-sources/",
        {
            "code": "city-news",
            "name": "City news",
            "connector": "rss",
            "config": {"url": "https://news.example/rss.xml"},
            "every_minutes": 15,
        },
        format="json",
    )
    assert resp.status_code == 201, resp.content
    assert resp.json()["schedule"] == "datahub.fetch_source:city-news"
    bad = api_client.post(
        "/api/v1/datahub/internet-sources/", {"code": "x", "name": "x", "connector": "rss", "config": {}}, format="json"
    )
    assert bad.status_code == 400 and "config.url" in bad.json()["error"]["message"]


def test_an_officer_cannot_register_sources(auth_client):
    resp = auth_client.post(
        "/api/v1/datahub/internet-sources/", {"code": "p", "name": "p", "connector": "push"}, format="json"
    )
    assert resp.status_code == 403


def test_it_lists_internet_sources_with_health_in_constant_queries(auth_client, django_assert_max_num_queries):
    for _ in range(5):
        make_source(connector="push")
    with django_assert_max_num_queries(5):
        data = auth_client.get("/api/v1/datahub/internet-sources/").json()
    assert data["count"] >= 5 and {"healthy", "last_run_status", "errors_24h"} <= set(data["results"][0])
