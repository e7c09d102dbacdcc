"""Pages of the IoT capability (`/datahub/iot/…`, namespace `datahub`)."""

from django.urls import path

from datahub.iot import views

urlpatterns = [
    path("iot/map/", views.device_map, name="iot-map"),
    path("iot/devices/<int:pk>/", views.device_detail, name="iot-device"),
    path("iot/datastreams/", views.datastream_list, name="iot-datastreams"),
    path("iot/monitor/", views.ingest_monitor, name="iot-monitor"),
    path("iot/imports/", views.series_imports, name="iot-imports"),
    path("iot/imports/<int:pk>/", views.series_import_detail, name="iot-import"),
    path("iot/imports/<int:pk>/cancel/", views.series_import_cancel, name="iot-import-cancel"),
]
