"""Admin pages of the dataset catalogue load for an administrator, with real imported data."""

import pytest

from datahub.models import DatasetImport, DatasetRecord, DatasetVersion
from tests.datahub.datasets.factories import make_dataset, run_import
from tests.factories import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_tmp", "english")]


@pytest.mark.parametrize("model", ["dataset", "datasetfield", "datasetversion", "datasetimport", "datasetrecord"])
def test_it_shows_the_changelist_and_a_change_page(client, model):
    ds = make_dataset()
    run_import(ds, b"id,name,lat,lon\n1,a,30.1,120.1\n")
    objects = {
        "dataset": ds,
        "datasetfield": ds.fields.first(),
        "datasetversion": DatasetVersion.objects.get(),
        "datasetimport": DatasetImport.objects.get(),
        "datasetrecord": DatasetRecord.objects.get(),
    }
    client.force_login(make_user(is_superuser=True, is_staff=True))
    assert client.get(f"/admin/datahub/{model}/").status_code == 200
    assert client.get(f"/admin/datahub/{model}/{objects[model].pk}/change/").status_code == 200
