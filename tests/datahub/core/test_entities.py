import pytest

from cityos.roles import Role
from datahub import facade
from datahub.core.normalize import normalize_name
from datahub.core.services.entities import EntityError
from datahub.models import Entity, EntityIdentifier, Event
from tests.datahub.core.factories import make_area, make_entity, make_event, make_source
from tests.factories import make_user

pytestmark = pytest.mark.django_db

# 0.001° of latitude is ~111 m.
LON, LAT = 120.05, 30.15


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("滨江绿源环保科技有限公司", "滨江 绿源环保科技（有限公司）"),
        ("Acme Co., Ltd.", "ACME LLC"),
        ("ＡＣＭＥ Inc.", "acme"),
        ("Little Rock Wi-Fi Café", "little rock wifi café"),
    ],
)
def test_it_normalises_names_that_mean_the_same(a, b):
    assert normalize_name(a) == normalize_name(b)


def test_it_keeps_a_co_that_is_part_of_the_name():
    assert normalize_name("Costco") == "costco"
    assert normalize_name("有限公司") == "有限公司"


def test_it_resolves_by_identifier_first_with_full_confidence():
    known = make_entity(name="滨江一中", identifiers={"school_code": "3301001"})
    entity_id, confidence, created = facade.entity_resolve(
        type="facility", name="完全不同的名字", identifiers={"school_code": "3301001", "phone": "0571-1"}
    )
    assert (entity_id, confidence, created) == (known.id, 1.0, False)
    assert EntityIdentifier.objects.get(scheme="phone").entity_id == known.id


def test_it_resolves_the_same_name_nearby_with_a_confidence_that_falls_with_distance():
    near = make_entity(type="enterprise", name="绿源环保科技有限公司", lon=LON, lat=LAT)
    same_spot = facade.entity_resolve(type="enterprise", name="绿源环保科技公司", lon=LON, lat=LAT)
    at_150m = facade.entity_resolve(type="enterprise", name="绿源环保科技", lon=LON, lat=LAT + 0.00135)
    assert same_spot[0] == at_150m[0] == near.id
    assert same_spot[1] == pytest.approx(0.95)
    assert 0.70 < at_150m[1] < 0.80


def test_it_creates_a_new_entity_for_the_same_name_far_away():
    far = make_entity(type="enterprise", name="绿源环保", lon=LON, lat=LAT)
    entity_id, confidence, created = facade.entity_resolve(type="enterprise", name="绿源环保", lon=LON, lat=LAT + 0.01)
    assert created and entity_id != far.id and confidence == 1.0
    assert Entity.objects.get(id=entity_id).geometry.coords == pytest.approx((LON, LAT + 0.01))


def test_it_matches_the_same_name_in_the_same_area():
    district = make_area(box=(120.0, 30.0, 0.5))
    street = make_area(level="street", parent=district, box=(120.0, 30.0, 0.2))
    known = make_entity(type="park", name="湖滨公园", area=street)  # no point, but a known street
    entity_id, confidence, created = facade.entity_resolve(type="park", name="湖滨公园", lon=120.1, lat=30.1)
    assert (entity_id, confidence, created) == (known.id, 0.7, False)


def test_it_matches_an_entity_filed_under_the_street_of_the_rows_grid_cell():
    district = make_area(box=(120.0, 30.0, 0.5))
    street = make_area(level="street", parent=district, box=(120.0, 30.0, 0.2))
    make_area(level="grid", parent=street, box=(120.0, 30.0, 0.1))
    known = make_entity(type="park", name="湖滨公园", area=street)
    assert facade.entity_resolve(type="park", name="湖滨公园", lon=120.05, lat=30.05) == (known.id, 0.65, False)
    # Filed under the district only: too coarse to say it is the same park.
    make_entity(type="park", name="江滨公园", area=district)
    assert facade.entity_resolve(type="park", name="江滨公园", lon=120.05, lat=30.05)[2] is True


def test_it_does_not_duplicate_a_bare_name_resolved_twice():
    first = facade.entity_resolve(type="organisation", name="Friends of the River")
    second = facade.entity_resolve(type="organisation", name="FRIENDS OF THE RIVER, Inc.")
    assert first[2] is True
    assert (second[0], second[1], second[2]) == (first[0], 0.6, False)


def test_it_never_matches_across_types():
    make_entity(type="road", name="人民路", lon=LON, lat=LAT)
    assert facade.entity_resolve(type="facility", name="人民路", lon=LON, lat=LAT)[2] is True


def test_it_adds_attributes_without_overwriting_what_another_source_said():
    known = make_entity(name="图书馆", identifiers={"lib": "1"}, attributes={"hours": "9-17"})
    facade.entity_resolve(
        type="facility", name="图书馆", identifiers={"lib": "1"}, attributes={"hours": "8-20", "seats": 120}
    )
    assert Entity.objects.get(id=known.id).attributes == {"hours": "9-17", "seats": 120}


def test_it_records_the_source_of_new_identifiers():
    source = make_source()
    entity_id, _c, _n = facade.entity_resolve(
        type="device", name="水位计 7", identifiers={"dev_eui": "A1B2"}, source_id=source.id
    )
    assert EntityIdentifier.objects.get(entity_id=entity_id).source_id == source.id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": "spaceship", "name": "x"}, "type must be one of"),
        ({"type": "facility", "name": "  "}, "name is required"),
        ({"type": "facility", "name": "x", "lon": 120.0}, "give both lon and lat"),
        ({"type": "facility", "name": "x", "lon": 200.0, "lat": 30.0}, "is not a WGS84"),
        ({"type": "facility", "name": "x", "identifiers": {"uscc": ""}}, "needs a scheme and a value"),
        ({"type": "facility", "name": "x", "source_id": 999999}, "source 999999 does not exist"),
    ],
)
def test_it_refuses_bad_resolution_input(kwargs, message):
    with pytest.raises(EntityError, match=message):
        facade.entity_resolve(**kwargs)
    assert not Entity.objects.exists()


def test_it_resolves_many_rows_in_one_go():
    known = make_entity(type="enterprise", name="甲", identifiers={"uscc": "U1"})
    source = make_source()
    rows = [
        {"type": "enterprise", "name": "甲公司", "identifiers": {"uscc": "U1"}},
        {"type": "enterprise", "name": "乙公司", "lon": LON, "lat": LAT},
        {"type": "enterprise", "name": "乙有限公司", "lon": LON, "lat": LAT},
    ]
    out = facade.entity_resolve_many(rows=rows, source_id=source.id)
    assert out[0] == (known.id, 1.0, False)
    assert out[1][2] is True and out[2][:2] == (out[1][0], 0.95)


def test_it_resolves_many_rows_all_or_nothing_naming_the_bad_row():
    rows = [{"type": "enterprise", "name": "甲"}, {"type": "enterprise", "name": ""}]
    with pytest.raises(EntityError, match="row 1: name is required"):
        facade.entity_resolve_many(rows=rows)
    assert not Entity.objects.exists()
    with pytest.raises(EntityError, match="at most 500 rows"):
        facade.entity_resolve_many(rows=[{"type": "enterprise", "name": "x"}] * 501)
    with pytest.raises(EntityError, match="row 0: unknown field 'colour'"):
        facade.entity_resolve_many(rows=[{"type": "enterprise", "name": "x", "colour": "red"}])


def test_the_facade_returns_an_entity_as_plain_data():
    e = make_entity(name="图书馆", lon=LON, lat=LAT, identifiers={"lib": "L1"}, attributes={"seats": 5})
    info = facade.entity_get(id=e.id)
    assert (info.name, info.lon, info.lat, info.identifiers, info.attributes) == (
        "图书馆",
        LON,
        LAT,
        {"lib": "L1"},
        {"seats": 5},
    )
    assert not hasattr(info, "_meta")
    assert facade.entity_get(id=999999) is None


# --- merge and split -------------------------------------------------------------------------


@pytest.fixture
def pair():
    keep = make_entity(name="滨江第一医院", identifiers={"hospital": "H1"})
    dupe = make_entity(name="滨江市第一人民医院", identifiers={"hospital": "H-001", "phone": "0571-120"})
    ev = make_event(type="inspection.done", subject=dupe)
    return keep, dupe, ev


def test_merge_moves_identifiers_and_events_and_is_recorded(pair):
    keep, dupe, ev = pair
    actor = make_user()
    event_id = facade.entity_merge(target_id=keep.id, merged_id=dupe.id, actor_id=actor.id, reason="same hospital")
    assert set(EntityIdentifier.objects.filter(entity=keep).values_list("value", flat=True)) == {
        "H1",
        "H-001",
        "0571-120",
    }
    assert Event.objects.get(id=ev.id).subject_id == keep.id
    assert Entity.objects.get(id=dupe.id).merged_into_id == keep.id
    logged = Event.objects.get(id=event_id)
    assert (logged.type, logged.subject_id, logged.actor_id, logged.payload["merged_id"]) == (
        "entity.merged",
        keep.id,
        actor.id,
        dupe.id,
    )
    # Resolving by the merged entity's identifier now lands on the survivor.
    assert facade.entity_resolve(type="facility", name="x", identifiers={"phone": "0571-120"})[0] == keep.id


def test_split_undoes_a_merge_exactly(pair):
    keep, dupe, ev = pair
    facade.entity_merge(target_id=keep.id, merged_id=dupe.id)
    later = make_event(type="inspection.done", subject=keep)  # happened after the merge: stays
    event_id = facade.entity_split(entity_id=dupe.id)
    assert set(dupe.identifiers.values_list("value", flat=True)) == {"H-001", "0571-120"}
    assert set(keep.identifiers.values_list("value", flat=True)) == {"H1"}
    assert Event.objects.get(id=ev.id).subject_id == dupe.id
    assert Event.objects.get(id=later.id).subject_id == keep.id
    assert Entity.objects.get(id=dupe.id).merged_into_id is None
    assert Event.objects.get(id=event_id).type == "entity.split"


def test_split_moves_back_only_the_chosen_identifiers(pair):
    keep, dupe, _ev = pair
    facade.entity_merge(target_id=keep.id, merged_id=dupe.id)
    phone = EntityIdentifier.objects.get(value="0571-120")
    facade.entity_split(entity_id=dupe.id, identifier_ids=[phone.id])
    assert list(dupe.identifiers.values_list("value", flat=True)) == ["0571-120"]
    assert set(keep.identifiers.values_list("value", flat=True)) == {"H1", "H-001"}


def test_split_takes_wrongly_resolved_identifiers_off_into_a_new_entity():
    e = make_entity(name="人民医院", identifiers={"a": "1", "b": "2"})
    wrong = EntityIdentifier.objects.get(scheme="b")
    event_id = facade.entity_split(entity_id=e.id, identifier_ids=[wrong.id])
    new_id = Event.objects.get(id=event_id).payload["new_id"]
    assert Entity.objects.get(id=new_id).name == "人民医院"
    assert EntityIdentifier.objects.get(id=wrong.id).entity_id == new_id


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda k, d: {"target_id": k.id, "merged_id": k.id}, "cannot be merged into itself"),
        (lambda k, d: {"target_id": k.id, "merged_id": 999999}, "entity 999999 does not exist"),
        (
            lambda k, d: {"target_id": k.id, "merged_id": make_entity(type="road").id},
            "cannot merge a road into a facility",
        ),
    ],
)
def test_it_refuses_bad_merges(pair, make_args, message):
    keep, dupe, _ev = pair
    with pytest.raises(EntityError, match=message):
        facade.entity_merge(**make_args(keep, dupe))
    assert not Event.objects.filter(type="entity.merged").exists()


def test_it_refuses_to_merge_twice(pair):
    keep, dupe, _ev = pair
    facade.entity_merge(target_id=keep.id, merged_id=dupe.id)
    with pytest.raises(EntityError, match="already merged"):
        facade.entity_merge(target_id=keep.id, merged_id=dupe.id)


# --- API and admin ---------------------------------------------------------------------------


@pytest.fixture
def curator(api_client):
    api_client.force_authenticate(make_user(role=Role.ANALYST))
    return api_client


def test_the_api_resolves_merges_and_splits(curator):
    r1 = curator.post(
        "/api/v1/datahub/entities/resolve/",
        {"type": "enterprise", "name": "甲公司", "identifiers": {"uscc": "91330100X"}},
        format="json",
    )
    r2 = curator.post(
        "/api/v1/datahub/entities/resolve/",
        {"type": "enterprise", "name": "甲有限公司", "lon": LON, "lat": LAT},
        format="json",
    )
    assert (r1.status_code, r1.json()["created"], r2.status_code) == (201, True, 201)
    a, b = r1.json()["entity_id"], r2.json()["entity_id"]
    merged = curator.post(f"/api/v1/datahub/entities/{a}/merge/", {"merged_id": b}, format="json")
    assert merged.status_code == 200
    assert Entity.objects.get(id=b).merged_into_id == a
    split = curator.post(f"/api/v1/datahub/entities/{b}/split/", {}, format="json")
    assert split.status_code == 200
    assert Entity.objects.get(id=b).merged_into_id is None


def test_curators_correct_an_entity_and_its_normalised_name_follows(curator):
    e = make_entity(name="旧名称有限公司")
    response = curator.patch(
        f"/api/v1/datahub/entities/{e.id}/", {"name": "New Name Co., Ltd.", "attributes": {"a": 1}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["normalized_name"], response.json()["attributes"]) == (
        "New Name Co., Ltd.",
        "newname",
        {"a": 1},
    )
    bad = curator.patch(f"/api/v1/datahub/entities/{e.id}/", {"name": " "}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("name: ")


def test_the_api_explains_a_refused_merge(curator):
    e = make_entity()
    response = curator.post(f"/api/v1/datahub/entities/{e.id}/merge/", {"merged_id": e.id}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "merged_id: an entity cannot be merged into itself"


def test_the_api_refuses_half_a_coordinate(curator):
    response = curator.post(
        "/api/v1/datahub/entities/resolve/", {"type": "facility", "name": "x", "lon": 120}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"lat": ["give both lon and lat"]}


def test_grid_workers_cannot_merge(api_client):
    api_client.force_authenticate(make_user(role=Role.GRID_WORKER))
    a, b = make_entity(), make_entity()
    assert (
        api_client.post(f"/api/v1/datahub/entities/{a.id}/merge/", {"merged_id": b.id}, format="json").status_code
        == 403
    )


def test_the_api_filters_entities_by_type_area_and_name_without_n_plus_one(auth_client, django_assert_max_num_queries):
    district = make_area(box=(120.0, 30.0, 0.5))
    street = make_area(level="street", parent=district, box=(120.0, 30.0, 0.2))
    for i in range(6):
        make_entity(
            name=f"公厕{i}", area=street, lon=120.1, lat=30.1, identifiers={"toilet": f"T{i}", "asset": f"A{i}"}
        )
    make_entity(name="公厕 elsewhere")
    make_entity(type="road", name="公厕路", area=street)
    with django_assert_max_num_queries(5):
        response = auth_client.get(f"/api/v1/datahub/entities/?type=facility&area={district.id}&q=公厕")
    body = response.json()
    assert body["count"] == 6
    first = body["results"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [120.1, 30.1]}
    assert {i["scheme"] for i in first["identifiers"]} == {"toilet", "asset"}
    assert auth_client.get("/api/v1/datahub/entities/?q=T3").json()["count"] == 1


def test_merged_entities_are_hidden_from_the_list_unless_asked(auth_client, pair):
    keep, dupe, _ev = pair
    facade.entity_merge(target_id=keep.id, merged_id=dupe.id)
    assert [e["id"] for e in auth_client.get("/api/v1/datahub/entities/").json()["results"]] == [keep.id]
    assert auth_client.get("/api/v1/datahub/entities/?include_merged=true").json()["count"] == 2


def test_the_admin_merges_selected_entities_into_the_oldest(client, pair):
    keep, dupe, _ev = pair
    client.force_login(make_user(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True))
    response = client.post(
        "/admin/datahub/entity/", {"action": "merge_into_oldest", "_selected_action": [keep.id, dupe.id]}
    )
    assert response.status_code == 302
    assert Entity.objects.get(id=dupe.id).merged_into_id == keep.id
    client.post("/admin/datahub/entity/", {"action": "undo_merge", "_selected_action": [dupe.id]})
    assert Entity.objects.get(id=dupe.id).merged_into_id is None


def test_identifiers_of_two_entities_resolve_to_the_oldest_until_a_person_merges():
    old = make_entity(name="甲", identifiers={"uscc": "U9"})
    new = make_entity(name="甲", identifiers={"licence": "L9"})
    assert facade.entity_resolve(type="facility", name="甲", identifiers={"licence": "L9", "uscc": "U9"})[0] == old.id
    # Each identifier stays where it was.
    assert EntityIdentifier.objects.get(value="L9").entity_id == new.id
