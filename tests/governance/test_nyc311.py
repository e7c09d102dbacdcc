import pytest

from governance.models import Case, Category
from governance.services.errors import CaseError
from governance.services.nyc311 import nyc311_import
from tests.governance.factories import load_nyc_areas

pytestmark = pytest.mark.django_db
CSV = "nyc_311_sample_and_boundaries/nyc_311_service_requests_2022-05-01_sample.csv"


@pytest.fixture
def nyc(data_dir):
    load_nyc_areas(data_dir)
    return data_dir / CSV


def test_it_imports_every_row_with_status_dates_and_areas(nyc):
    stats = nyc311_import(path=nyc)
    assert stats["rows"] == 924 and stats["imported"] == 924
    assert Case.objects.count() == 924
    # 11 rows have no coordinates; they are kept, unlocated.
    assert Case.objects.filter(location__isnull=True).count() == 11
    assert Case.objects.filter(location__isnull=True, area__isnull=True).count() == 11
    located = Case.objects.filter(district__isnull=False).count()
    assert located >= 900
    first = Case.objects.get(origin_ref="nyc311:54049402")
    assert first.district.name == "Bronx" and first.area.level == "community"
    assert first.status == "in_progress" and first.category.service_code == "NYC-NOISE-RESIDENTIAL"
    # Status and dates: Closed 480 (with their closed date) / In Progress 440 / Open 4.
    assert Case.objects.filter(status="closed").count() == 480
    assert Case.objects.filter(status="in_progress").count() == 440
    assert Case.objects.filter(status="received").count() == 4
    closed = Case.objects.filter(status="closed").exclude(closed_at=None).count()
    assert closed == 480
    assert Category.objects.filter(parent__code="nyc-nypd").count() > 10


def test_it_is_idempotent(data_dir):
    nyc311_import(path=data_dir / CSV)
    again = nyc311_import(path=data_dir / CSV)
    assert again["imported"] == 0 and again["skipped"] == 924 and Case.objects.count() == 924


def test_it_rejects_a_bad_date_naming_row_and_column(tmp_path, db):
    bad = tmp_path / "bad.csv"
    header = (
        "Unique Key,Created Date,Closed Date,Agency,Agency Name,Complaint Type,Descriptor,Status,Due Date,"
        "Latitude,Longitude"
    )
    bad.write_text(
        header + "\n1,05/01/2022 12:00:03 AM,,NYPD,Police,Noise,Loud,Open,,,\n"
        "2,yesterday,,NYPD,Police,Noise,Loud,Open,,,\n"
    )
    with pytest.raises(CaseError, match=r"row 3, column 'Created Date'"):
        nyc311_import(path=bad)
    assert not Case.objects.exists()


def test_it_locates_rows_imported_before_the_boundaries_existed(data_dir):
    from governance.services.location import cases_relocate

    nyc311_import(path=data_dir / CSV)
    assert not Case.objects.filter(area__isnull=False).exists()
    load_nyc_areas(data_dir)
    assert cases_relocate() >= 900
    assert Case.objects.get(origin_ref="nyc311:54049402").district.name == "Bronx"
    assert cases_relocate() == 0
