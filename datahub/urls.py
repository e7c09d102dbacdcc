"""Pages of the datahub (`/datahub/…`)."""

from django.urls import path

from .views import datasets

app_name = "datahub"

urlpatterns = [
    path("datasets/", datasets.catalogue, name="dataset-catalogue"),
    path("datasets/new/", datasets.dataset_new, name="dataset-new"),
    path("datasets/<slug:slug>/", datasets.dataset_detail, name="dataset-detail"),
    path("datasets/<slug:slug>/import/", datasets.import_upload, name="dataset-import"),
    path("imports/<int:pk>/", datasets.import_detail, name="import-detail"),
    path("imports/<int:pk>/confirm/", datasets.import_confirm, name="import-confirm"),
    path("imports/<int:pk>/cancel/", datasets.import_cancel, name="import-cancel"),
]
