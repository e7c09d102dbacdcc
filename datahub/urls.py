"""Pages of the datahub (`/datahub/…`)."""

from django.urls import path

from .views import datasets, entities, iot

app_name = "datahub"

urlpatterns = [
    path("entities/", entities.entity_list, name="entity-list"),
    path("entities/<int:pk>/", entities.entity_detail, name="entity-detail"),
    path("entities/<int:pk>/merge/", entities.entity_merge, name="entity-merge"),
    path("entities/<int:pk>/split/", entities.entity_split, name="entity-split"),
    path("areas/", entities.area_browser, name="area-browser"),
    path("datasets/", datasets.catalogue, name="dataset-catalogue"),
    path("datasets/new/", datasets.dataset_new, name="dataset-new"),
    path("datasets/<slug:slug>/", datasets.dataset_detail, name="dataset-detail"),
    path("datasets/<slug:slug>/import/", datasets.import_upload, name="dataset-import"),
    path("datasets/<slug:slug>/entity-mapping/", datasets.dataset_entity_mapping, name="dataset-entity-mapping"),
    path("imports/<int:pk>/", datasets.import_detail, name="import-detail"),
    path("imports/<int:pk>/confirm/", datasets.import_confirm, name="import-confirm"),
    path("imports/<int:pk>/cancel/", datasets.import_cancel, name="import-cancel"),
    path("iot/map/", iot.device_map, name="iot-map"),
    path("iot/devices/<int:pk>/", iot.device_detail, name="iot-device"),
    path("iot/datastreams/", iot.datastream_list, name="iot-datastreams"),
    path("iot/monitor/", iot.ingest_monitor, name="iot-monitor"),
    path("iot/imports/", iot.series_imports, name="iot-imports"),
    path("iot/imports/<int:pk>/", iot.series_import_detail, name="iot-import"),
    path("iot/imports/<int:pk>/cancel/", iot.series_import_cancel, name="iot-import-cancel"),
]
