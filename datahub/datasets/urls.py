"""Pages of the dataset catalogue and its imports (`/datahub/…`, namespace `datahub`)."""

from django.urls import path

from datahub.datasets import views

urlpatterns = [
    path("datasets/", views.catalogue, name="dataset-catalogue"),
    path("datasets/new/", views.dataset_new, name="dataset-new"),
    path("datasets/<slug:slug>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<slug:slug>/import/", views.import_upload, name="dataset-import"),
    path("datasets/<slug:slug>/entity-mapping/", views.dataset_entity_mapping, name="dataset-entity-mapping"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("imports/<int:pk>/confirm/", views.import_confirm, name="import-confirm"),
    path("imports/<int:pk>/cancel/", views.import_cancel, name="import-cancel"),
]
