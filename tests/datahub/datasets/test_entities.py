"""Dataset records link to entities: mapping, resolution after import and on demand, the entity page."""

import csv
import io
from collections import defaultdict

import pytest

from cityos.roles import Role
from datahub.core.normalize import normalize_name
from datahub.datasets.services import entities as link
from datahub.models import Dataset, DatasetRecord, Entity, EntityIdentifier, Run
from tests.datahub.datasets.factories import make_dataset, run_import
from tests.factories import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_tmp", "english")]

MAPPING = {
    "type": "enterprise",
    "name_field": "name",
    "name_en_field": None,
    "id_field": "licence",
    "id_scheme": "licence",
}

FIRMS = (
    "id,licence,name,lon,lat\n"
    "1,L-001,西湖茶叶有限公司,120.10,30.20\n"
    "2,L-001,西湖茶叶,120.30,30.40\n"
    "3,,滨江科技有限公司,120.21,30.21\n"
    "4,,滨江科技,120.21,30.21\n"
    "5,L-009,,120.50,30.50\n"
).encode()


@pytest.fixture
def firms(department):
    ds = make_dataset(owner_department=department, title="Firms", level=Dataset.Level.PUBLIC)
    imp = run_import(ds, FIRMS, location={"lon": "lon", "lat": "lat"})
    assert imp.status == "succeeded", imp.message
    ds.refresh_from_db()
    link.dataset_entity_mapping_set(dataset=ds, mapping=MAPPING)
    return ds


def _linked(ds) -> dict[str, tuple[int | None, float | None]]:
    return {
        r.key: (r.entity_id, r.entity_confidence) for r in DatasetRecord.objects.filter(dataset=ds, version_to=None)
    }


def test_it_links_rows_sharing_a_licence_to_one_entity_with_full_confidence(firms):
    link.dataset_entities_link(dataset_id=firms.id)
    rows = _linked(firms)
    assert rows["1"][0] is not None and rows["1"][0] == rows["2"][0]
    assert rows["1"][1] == rows["2"][1] == 1.0
    assert EntityIdentifier.objects.get(scheme="licence", value="L-001").entity_id == rows["1"][0]


def test_it_links_rows_with_the_same_normalised_name_at_the_same_place(firms):
    link.dataset_entities_link(dataset_id=firms.id)
    rows = _linked(firms)
    assert rows["3"][0] == rows["4"][0]
    assert rows["3"][0] != rows["1"][0]
    assert Entity.objects.get(id=rows["3"][0]).type == "enterprise"
    assert rows["4"][1] == 0.95  # 0 m apart


def test_it_leaves_a_row_with_an_empty_name_unlinked(firms):
    link.dataset_entities_link(dataset_id=firms.id)
    assert _linked(firms)["5"] == (None, None)
    assert not EntityIdentifier.objects.filter(value="L-009").exists()


def test_it_changes_nothing_when_linking_runs_again(firms):
    first = link.dataset_entities_link(dataset_id=firms.id)
    before, entities = _linked(firms), Entity.objects.count()
    again = link.dataset_entities_link(dataset_id=firms.id)
    assert (first["candidates"], first["created"]) == (4, 2)
    assert again == {"candidates": 0, "by_identifier": 0, "resolved": 0, "created": 0}
    assert _linked(firms) == before and Entity.objects.count() == entities


def test_it_matches_known_identifiers_set_based_on_a_new_version(firms):
    link.dataset_entities_link(dataset_id=firms.id)
    entity_id = _linked(firms)["1"][0]
    changed = FIRMS.replace("1,L-001,西湖茶叶有限公司".encode(), "1,L-001,西湖茶业集团".encode())
    run_import(firms, changed, location={"lon": "lon", "lat": "lat"})
    stats = link.dataset_entities_link(dataset_id=firms.id)
    assert (stats["by_identifier"], stats["resolved"]) == (1, 0)
    assert _linked(firms)["1"] == (entity_id, 1.0)


def test_it_records_the_linking_in_a_run(firms):
    link.dataset_entities_link(dataset_id=firms.id)
    run = Run.objects.filter(source=firms.source).order_by("-id").first()
    assert (run.status, run.progress, run.rows_read, run.rows_stored) == ("succeeded", 1.0, 4, 4)


def test_it_queues_linking_when_an_import_commits(department, django_capture_on_commit_callbacks, monkeypatch):
    from datahub.datasets import tasks

    queued = []
    monkeypatch.setattr(tasks.dataset_entities_link_run, "delay", lambda *a: queued.append(a))
    ds = make_dataset(owner_department=department)
    run_import(ds, FIRMS)
    link.dataset_entity_mapping_set(dataset=ds, mapping=MAPPING)
    with django_capture_on_commit_callbacks(execute=True):
        run_import(ds, FIRMS.replace(b"L-009", b"L-010"))
    assert queued == [(ds.id, None)]


def test_the_records_api_exposes_and_filters_by_entity(firms, auth_client):
    link.dataset_entities_link(dataset_id=firms.id)
    entity_id = _linked(firms)["1"][0]
    resp = auth_client.get(f"/api/v1/datahub/datasets/{firms.slug}/records/", {"entity": entity_id})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert sorted(r["key"] for r in body["results"]) == ["1", "2"]
    assert {r["entity_id"] for r in body["results"]} == {entity_id}


def test_a_bad_mapping_is_refused_naming_the_field(firms, api_client):
    owner = make_user(role=Role.ADMINISTRATOR, department=firms.owner_department)
    api_client.force_authenticate(owner)
    resp = api_client.patch(
        f"/api/v1/datahub/datasets/{firms.slug}/",
        {"entity_mapping": {**MAPPING, "name_field": "company"}},
        format="json",
    )
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert "entity_mapping.name_field" in err["fields"] and "'company'" in err["message"]
    bad_type = api_client.patch(
        f"/api/v1/datahub/datasets/{firms.slug}/", {"entity_mapping": {**MAPPING, "type": "planet"}}, format="json"
    )
    assert "entity_mapping.type" in bad_type.json()["error"]["fields"]


def test_a_good_mapping_is_saved_and_linking_queued_through_the_api(
    firms, api_client, monkeypatch, django_capture_on_commit_callbacks
):
    from datahub.datasets import tasks

    queued = []
    monkeypatch.setattr(tasks.dataset_entities_link_run, "delay", lambda *a: queued.append(a))
    owner = make_user(role=Role.ADMINISTRATOR, department=firms.owner_department)
    api_client.force_authenticate(owner)
    mapping = {"type": "facility", "name_field": "name"}
    resp = api_client.patch(f"/api/v1/datahub/datasets/{firms.slug}/", {"entity_mapping": mapping}, format="json")
    assert resp.status_code == 200, resp.content
    assert resp.json()["entity_mapping"]["type"] == "facility"
    firms.refresh_from_db()
    assert firms.entity_mapping == {
        "type": "facility",
        "name_field": "name",
        "name_en_field": None,
        "id_field": None,
        "id_scheme": None,
    }
    with django_capture_on_commit_callbacks(execute=True):
        queued_resp = api_client.post(f"/api/v1/datahub/datasets/{firms.slug}/link-entities/")
    assert queued_resp.status_code == 202
    assert queued == [(firms.id, owner.id)]


def test_the_entity_page_lists_its_dataset_records(firms, client):
    link.dataset_entities_link(dataset_id=firms.id)
    entity_id = _linked(firms)["1"][0]
    client.force_login(make_user(role=Role.ADMINISTRATOR, department=firms.owner_department))
    html = client.get(f"/datahub/entities/{entity_id}/").content.decode()
    assert 'data-section="dataset-records"' in html
    assert f"/datahub/datasets/{firms.slug}/" in html and "Firms" in html
    assert html.count("?entity=") == 2  # rows 1 and 2


def test_it_links_little_rock_business_licences_by_company(data_dir, department):
    path = data_dir / "little_rock_city_open_data" / "Business_Licenses.csv"
    with path.open(newline="", encoding="utf-8") as f:
        lines = [next(f) for _ in range(2001)]  # header + the first 2,000 rows
    ds = make_dataset(owner_department=department, title="Little Rock business licences")
    imp = run_import(ds, "".join(lines).encode(), path.name, on_error="skip")
    assert imp.rows_valid == 2000, imp.message
    link.dataset_entity_mapping_set(dataset=ds, mapping={"type": "enterprise", "name_field": "Business"})
    stats = link.dataset_entities_link(dataset_id=ds.id)
    by_name = defaultdict(set)
    for rec in DatasetRecord.objects.filter(dataset=ds, version_to=None):
        by_name[rec.data["Business"].strip()].add(rec.entity_id)
    names = {row["Business"].strip() for row in csv.DictReader(io.StringIO("".join(lines)))}
    assert set(by_name) == names
    # Rows naming the same company attach to one entity; different companies (after normalising
    # "LLC", "INC"…) to different ones: the file has no place columns, so the name decides.
    assert all(len(ids) == 1 and None not in ids for ids in by_name.values())
    by_norm = defaultdict(set)
    for name, ids in by_name.items():
        by_norm[normalize_name(name)] |= ids
    assert all(len(ids) == 1 for ids in by_norm.values())
    assert stats["created"] == len(by_norm) == Entity.objects.filter(type="enterprise").count()
    hillcrest = next(iter(by_name["HILLCREST LIQUOR & FINE WINESINC"]))
    assert DatasetRecord.objects.filter(dataset=ds, entity_id=hillcrest).count() >= 4


def test_the_dataset_page_sets_the_mapping_and_queues_linking(
    firms, client, monkeypatch, django_capture_on_commit_callbacks
):
    from datahub.datasets import tasks

    queued = []
    monkeypatch.setattr(tasks.dataset_entities_link_run, "delay", lambda *a: queued.append(a))
    owner = make_user(role=Role.ADMINISTRATOR, department=firms.owner_department)
    client.force_login(owner)
    assert 'id="entity-mapping-form"' in client.get(f"/datahub/datasets/{firms.slug}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(
            f"/datahub/datasets/{firms.slug}/entity-mapping/",
            {"type": "facility", "name_field": "name", "id_field": "licence", "id_scheme": ""},
        )
    assert resp.status_code == 302
    firms.refresh_from_db()
    assert firms.entity_mapping["type"] == "enterprise"  # refused: an identifier column needs its scheme
    assert queued == []
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/datahub/datasets/{firms.slug}/entity-mapping/", {"type": "facility", "name_field": "name"})
    firms.refresh_from_db()
    assert (firms.entity_mapping["type"], queued) == ("facility", [(firms.id, owner.id)])


def test_the_admin_form_refuses_a_mapping_naming_a_missing_column(firms):
    from datahub.datasets.admin import DatasetEntityMappingForm

    form = DatasetEntityMappingForm(
        instance=firms, data={"entity_mapping": '{"type": "enterprise", "name_field": "x"}'}
    )
    assert not form.is_valid()
    assert "name_field 'x' is not a column" in form.errors["entity_mapping"][0]
    ok = DatasetEntityMappingForm(instance=firms, data={"entity_mapping": '{"type": "facility", "name_field": "name"}'})
    assert ok.is_valid(), ok.errors
    assert ok.cleaned_data["entity_mapping"]["name_field"] == "name"
