from django.urls import path

from . import views

app_name = "datahub"

urlpatterns = [
    path("iot/map/", views.device_map, name="iot-map"),
    path("iot/devices/<int:pk>/", views.device_detail, name="iot-device"),
    path("iot/datastreams/", views.datastream_list, name="iot-datastreams"),
    path("iot/monitor/", views.ingest_monitor, name="iot-monitor"),
]
