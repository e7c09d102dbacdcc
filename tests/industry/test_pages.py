import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from cityos.roles import Role
from industry.models import ChainLink, IndustryCode, Park
from industry.services.matching import match_run
from tests.factories import make_user
from tests.industry.factories import make_enterprise, make_member, make_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    park = Park.objects.create(
        code="p1",
        name="滨江高新园",
        name_en="Binjiang Hi-tech Park",
        land_mu=1000,
        capacity=10,
        boundary=MultiPolygon(Polygon(((120, 30), (120.1, 30), (120.1, 30.1), (120, 30.1), (120, 30))), srid=4326),
    )
    ent = make_enterprise(industry_code="36", size="small", lon=120.05, lat=30.05, tags=["high-tech"])
    assert ent.park_id == park.id  # PostGIS containment
    policy = make_policy(criteria=[{"kind": "size", "codes": ["small"]}], automatic=True, title="小微企业奖励")
    ChainLink.objects.create(
        chain="新能源汽车",
        chain_en="New-energy vehicles",
        upstream=IndustryCode.objects.get(code="38"),
        downstream=IndustryCode.objects.get(code="36"),
    )
    match_run()
    return {"park": park, "ent": ent, "policy": policy}


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_every_industry_page_renders_for_an_administrator(client, world, lang):
    client.force_login(make_user(role=Role.ADMINISTRATOR))
    client.cookies["django_language"] = lang
    for url in [
        "/industry/",
        f"/industry/enterprises/{world['ent'].id}/",
        "/industry/parks/",
        f"/industry/parks/{world['park'].id}/",
        "/industry/dashboard/",
        "/industry/chain/",
        "/industry/policies/",
        f"/industry/policies/{world['policy'].id}/",
        "/industry/grants/",
        "/industry/appeals/",
        "/industry/risk/",
    ]:
        r = client.get(url)
        assert r.status_code == 200, url
    r = client.get("/industry/chain/")
    assert "gap" in r.content.decode()  # 38 has no enterprise: a 补链 gap


def test_the_registry_exports_csv_and_xlsx(client, world):
    client.force_login(make_user(role=Role.ADMINISTRATOR))
    r = client.get("/industry/?export=csv")
    assert r["Content-Type"].startswith("text/csv") and world["ent"].uscc in r.content.decode("utf-8-sig")
    r = client.get("/industry/?export=xlsx")
    from io import BytesIO

    from openpyxl import load_workbook

    ws = load_workbook(BytesIO(r.content)).active
    assert [c.value for c in ws[2]][2] == world["ent"].uscc


def test_enterprise_users_get_their_pages_and_not_the_officer_pages(client, world):
    user = make_user(role=Role.ENTERPRISE_USER)
    make_member(world["ent"], user)
    client.force_login(user)
    assert client.get(f"/industry/enterprises/{world['ent'].id}/").status_code == 200
    other = make_enterprise()
    assert client.get(f"/industry/enterprises/{other.id}/").status_code == 404
    assert client.get("/industry/risk/").status_code == 403
    assert client.get("/industry/grants/").status_code == 403
    r = client.post(
        "/industry/appeals/", {"enterprise": world["ent"].id, "title": "用电增容", "description": "需要增容"}
    )
    assert r.status_code == 302


def test_grants_are_confirmed_in_bulk_from_the_page(client, world):
    from industry.models import Grant

    client.force_login(make_user(role=Role.ADMINISTRATOR))
    g = Grant.objects.get()
    r = client.post("/industry/grants/decide/", {"ids": [g.id], "decision": "confirm"})
    assert r.status_code == 302
    g.refresh_from_db()
    assert g.status == "confirmed"
