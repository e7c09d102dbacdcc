import time

import pytest

from cityos.roles import Role
from datahub.models import Entity, Event
from industry.models import Enterprise, ImportJob, Licence
from industry.services.imports import enterprise_import_csv, import_little_rock
from tests.factories import make_user
from tests.governance.factories import make_area
from tests.industry.factories import make_uscc

pytestmark = pytest.mark.django_db


def _csv(rows: list[str]) -> bytes:
    return ("\n".join(rows) + "\n").encode("utf-8")


def test_a_bad_row_refuses_the_file_with_row_and_column_and_writes_nothing(api_client):
    api_client.force_authenticate(make_user(role=Role.ADMINISTRATOR))
    data = _csv(
        [
            "name,uscc,industry_code,founded_on",
            f"甲公司,{make_uscc()},36,2020-01-01",
            "乙公司,91110000600037341M,36,2020-01-01",
            f"丙公司,{make_uscc()},ZZ,2020-13-45",
        ]
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = api_client.post(
        "/api/v1/industry/enterprises/import/",
        {"file": SimpleUploadedFile("e.csv", data, "text/csv")},
        format="multipart",
    )
    assert r.status_code == 400
    errors = r.json()["error"]["errors"]
    assert {"row": 3, "column": "uscc", "message": "the check digit is wrong"} in errors
    assert {(e["row"], e["column"]) for e in errors} >= {(4, "industry_code"), (4, "founded_on")}
    assert r.json()["error"]["message"].startswith("row 3, column uscc")
    assert not Enterprise.objects.exists() and not Entity.objects.filter(type="enterprise").exists()
    assert ImportJob.objects.get().status == "failed"


def test_rows_of_one_enterprise_become_one_with_several_licences_and_a_rerun_adds_nothing():
    area = make_area(level="district", name="江南区", name_en="Jiangnan")
    code = make_uscc()
    data = _csv(
        [
            "name,uscc,address,licence_type,licence_number,licence_valid_to,tags",
            f"滨江食品有限公司,{code},江南区文一路1号,食品经营许可证,JY1,2030-01-01,high-tech",
            f"滨江食品有限公司,{code},江南区文一路1号,排污许可证,PW9,2019-01-01,",
            "无名小店,,火星路1号,,,,",
        ]
    )
    from django.core.cache import cache

    cache.clear()  # the gazetteer index follows the areas made in this test
    job = enterprise_import_csv(data=data)
    assert job.counts["enterprises_created"] == 2 and job.counts["licences_created"] == 2
    ent = Enterprise.objects.get(uscc=code)
    assert ent.area_id == area.id and ent.located == "address"
    assert list(ent.tags.values_list("code", flat=True)) == ["high-tech"]
    shop = Enterprise.objects.get(name="无名小店")
    assert shop.located == "none" and shop.locate_reason == "address names no known area"
    assert Event.objects.filter(type="industry.enterprise_registered").count() == 2
    again = enterprise_import_csv(data=data)
    assert again.counts["enterprises_created"] == 0 and again.counts["licences_created"] == 0
    assert Enterprise.objects.count() == 2 and Licence.objects.count() == 2


def test_the_little_rock_business_licences_import_through_the_importer(data_dir):
    path = data_dir / "little_rock_city_open_data" / "Business_Licenses.csv"
    t0 = time.monotonic()
    job = import_little_rock(path=path)
    elapsed = time.monotonic() - t0
    c = job.counts
    assert job.status == "succeeded" and job.errors == []
    assert c["stored"] == 14_573  # every row read and kept
    # 553 (name, address) pairs hold more than one licence: those rows share one enterprise
    assert 13_500 < c["enterprises_created"] < 14_100
    assert c["licences_created"] == Licence.objects.count() > c["enterprises_created"]
    # US addresses name no area of the city's gazetteer: kept, unlocated, with the reason
    assert c["unlocated"] == Enterprise.objects.filter(located="none").count()
    assert set(Enterprise.objects.values_list("locate_reason", flat=True)) <= {"address names no known area", ""}
    keller = Enterprise.objects.filter(name="KELLER WILLIAMS REALTY").first()
    assert keller is not None and keller.industry_code == "70" and keller.section_code == "K"
    assert "LITTLE ROCK" in keller.address
    assert Event.objects.filter(type="industry.enterprise_registered").count() == c["enterprises_created"]
    print(f"little rock import: {elapsed:.1f} s for 14,573 rows")


def test_a_datahub_dataset_imports_through_a_field_mapping(api_client):
    from django.contrib.gis.geos import Point

    from datahub.models import DatasetRecord
    from tests.datahub.datasets.factories import make_dataset

    ds = make_dataset()
    code = make_uscc()
    for n, (name, uscc) in enumerate([("市场主体甲", code), ("市场主体乙", "")], start=1):
        DatasetRecord.objects.create(
            dataset=ds,
            key=str(n),
            row_number=n,
            version_from=1,
            data={"企业名称": name, "信用代码": uscc, "行业": "65"},
            geom=Point(120.01, 30.01, srid=4326),
        )
    api_client.force_authenticate(make_user(role=Role.ADMINISTRATOR))
    mapping = {"name": "企业名称", "uscc": "信用代码", "industry_code": "行业"}
    r = api_client.post(
        "/api/v1/industry/enterprises/import-dataset/", {"dataset": ds.id, "mapping": mapping}, format="json"
    )
    assert r.status_code == 201, r.content
    assert r.json()["counts"]["enterprises_created"] == 2
    ent = Enterprise.objects.get(uscc=code)
    assert ent.industry_code == "65" and ent.located == "point" and ent.location.x == pytest.approx(120.01)
    r = api_client.post(
        "/api/v1/industry/enterprises/import-dataset/",
        {"dataset": ds.id, "mapping": {"name": "企业名称", "colour": "x"}},
        format="json",
    )
    assert r.status_code == 400 and "mapping" in r.json()["error"]["message"]
    r = api_client.post(
        "/api/v1/industry/enterprises/import-dataset/", {"dataset": 999999, "mapping": mapping}, format="json"
    )
    assert r.status_code == 404
