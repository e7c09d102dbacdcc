from django.urls import path
from rest_framework.routers import DefaultRouter

from . import iot, views

router = DefaultRouter()
router.register("departments", views.DepartmentViewSet, basename="department")
router.register("devices", iot.DeviceViewSet, basename="device")
router.register("datastreams", iot.DatastreamViewSet, basename="datastream")
router.register("ingest-batches", iot.IngestBatchViewSet, basename="ingest-batch")

urlpatterns = [
    path("observations/ingest/", iot.ObservationIngestView.as_view(), name="observation-ingest"),
    *router.urls,
]
