"""Pages of the datahub (`/datahub/…`): each capability's pages under one namespace."""

from datahub.core import urls as core
from datahub.datasets import urls as datasets
from datahub.iot import urls as iot

app_name = "datahub"

urlpatterns = [*core.urlpatterns, *datasets.urlpatterns, *iot.urlpatterns]
