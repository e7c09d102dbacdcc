import time

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from datahub import facade
from datahub.core.services.gazetteer import GazetteerImportError, gazetteer_import
from datahub.models import Area
from tests.datahub.core.factories import make_area

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Error messages are translated; these tests read the English ones."""
    with translation.override("en"):
        yield


@pytest.fixture
def codes(data_dir):
    return data_dir / "cn_admin_division_codes_2023"


def _write(
    tmp_path,
    provinces="code,name\n11,北京市\n",
    cities="code,name,provinceCode\n1101,市辖区,11\n",
    areas="code,name,cityCode,provinceCode\n110101,东城区,1101,11\n",
    streets="code,name,areaCode,provinceCode,cityCode\n110101001,东华门街道,110101,11,1101\n",
):
    for name, text in [("provinces", provinces), ("cities", cities), ("areas", areas), ("streets", streets)]:
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    return tmp_path


def test_it_imports_all_four_levels_of_the_division_codes_fast(codes):
    started = time.monotonic()
    result = gazetteer_import(directory=codes)
    elapsed = time.monotonic() - started
    assert result.counts == {"province": 31, "city": 342, "district": 2978, "street": 41352}
    assert Area.objects.filter(level="street").count() == 41352
    street = Area.objects.select_related("parent__parent__parent").get(code="110101001")
    assert (street.name, street.parent.name, street.parent.parent.code, street.parent.parent.parent.name) == (
        "东华门街道",
        "东城区",
        "1101",
        "北京市",
    )
    assert street.geometry is None
    # COPY + set-based upsert: 1.6 s measured at a load average of 6, 7 s at 14 (bench_geo);
    # saving 44,703 areas row by row through the ORM (~1 ms each) would take ~45 s.
    assert elapsed < 20


def test_it_is_idempotent_and_keeps_boundaries_set_by_other_imports(tmp_path):
    d = _write(tmp_path)
    gazetteer_import(directory=d)
    Area.objects.filter(code="110101").update(name_en="Dongcheng District")
    again = gazetteer_import(directory=d)
    assert (again.created, again.updated) == (0, 4)
    assert Area.objects.get(code="110101").name_en == "Dongcheng District"
    assert Area.objects.count() == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"streets": "code,name,areaCode\n11010100X,坏,110101\n"},
            "streets.csv row 2, column code: '11010100X' is not a 9-digit code",
        ),
        (
            {"streets": "code,name,areaCode\n110101001,东华门街道,999999\n"},
            "streets.csv row 2, column areaCode: parent '999999'",
        ),
        ({"areas": "code,name\n110101,东城区\n"}, "areas.csv: column cityCode is missing"),
        ({"cities": "code,name,provinceCode\n1101,,11\n"}, "cities.csv row 2, column name: empty"),
        ({"provinces": "code,name\n11,北京市\n11,北京\n"}, "provinces.csv row 3, column code: 11 repeats"),
    ],
)
def test_it_refuses_bad_rows_naming_file_row_and_column_and_writes_nothing(tmp_path, kwargs, message):
    with pytest.raises(GazetteerImportError) as err:
        gazetteer_import(directory=_write(tmp_path, **kwargs))
    assert message in str(err.value)
    assert not Area.objects.exists()


def test_it_refuses_a_file_that_is_not_utf8(tmp_path):
    d = _write(tmp_path)
    (d / "areas.csv").write_bytes("code,name,cityCode\n110101,东城区,1101\n".encode("gbk"))
    with pytest.raises(GazetteerImportError, match="areas.csv is not UTF-8"):
        gazetteer_import(directory=d)


def test_the_command_reports_a_missing_directory(tmp_path):
    with pytest.raises(CommandError, match="is not a directory"):
        call_command("import_gazetteer", str(tmp_path / "nope"))


# --- lookup ------------------------------------------------------------------------------------


@pytest.fixture
def demo_and_gazetteer(codes, tmp_path):
    """The real code list with the streets cut to the names these tests use (full import: above),
    and a local city with boundaries like the demo city's 江南区 (whose name Nanning shares)."""
    import csv

    for name in ("provinces", "cities", "areas"):
        (tmp_path / f"{name}.csv").write_bytes((codes / f"{name}.csv").read_bytes())
    with (
        (codes / "streets.csv").open(encoding="utf-8") as src,
        (tmp_path / "streets.csv").open("w", encoding="utf-8") as dst,
    ):
        rows = csv.reader(src)
        out = csv.writer(dst)
        out.writerow(next(rows))
        out.writerows(r for r in rows if r[1] in {"长安街道", "东华门街道", "城关镇", "景山街道"})
    gazetteer_import(directory=tmp_path)
    city = make_area(code="9901", name="滨江市", name_en="Binjiang City", level="city", box=(120.0, 30.0, 0.3))
    district = make_area(code="990101", name="江南区", name_en="Jiangnan District", parent=city, box=(120.0, 30.0, 0.1))
    make_area(
        code="990101001",
        name="长安街道",
        name_en="Chang'an Subdistrict",
        level="street",
        parent=district,
        box=(120.0, 30.0, 0.05),
    )


def test_it_finds_the_demo_street_named_with_its_district(demo_and_gazetteer):
    # 江南区 exists twice (the demo city's and Nanning's) and 长安街道 nine times in China: the
    # district named in the same text picks the one 长安街道 under a 江南区.
    found = facade.area_match_text(text="江南区长安街道人民路12号路灯不亮")
    assert [(a.code, a.name, a.level) for a in found] == [("990101001", "长安街道", "street")]


def test_it_uses_short_province_and_city_names_to_pick_among_namesakes(demo_and_gazetteer):
    found = facade.area_match_text(text="广西南宁江南区")
    assert [a.code for a in found] == ["450105"]


def test_it_finds_streets_in_a_full_national_address(demo_and_gazetteer):
    found = facade.area_match_text(text="北京市东城区东华门街道")
    assert [a.code for a in found] == ["110101001"]


def test_it_matches_english_names_as_whole_words_ignoring_case(demo_and_gazetteer):
    assert [a.code for a in facade.area_match_text(text="pothole in jiangnan district, near the bridge")] == ["990101"]
    assert facade.area_match_text(text="Jiangnan Districtwide") == []


def test_it_drops_names_too_ambiguous_to_place(demo_and_gazetteer):
    # 88 towns are called 城关镇 and none is in the demo city: no guess.
    assert facade.area_match_text(text="城关镇") == []


def test_it_sees_new_areas_after_an_import(demo_and_gazetteer):
    assert facade.area_match_text(text="Floridian Park") == []
    Area.objects.create(code="x1", name="佛州公园", name_en="Floridian Park", level="other")
    from datahub.core.selectors import gazetteer

    gazetteer.bump()  # what every area-writing service does
    assert [a.code for a in facade.area_match_text(text="Floridian Park")] == ["x1"]
