from django.urls import path
from rest_framework.routers import DefaultRouter

from datahub.core import api as views
from datahub.datasets import api as datasets
from datahub.iot import api as iot
from datahub.monitoring import api as monitoring
from datahub.text import api as text_views

router = DefaultRouter()
router.register("departments", views.DepartmentViewSet, basename="department")
router.register("areas", views.AreaViewSet, basename="area")
router.register("sources", views.SourceViewSet, basename="source")
router.register("runs", views.RunViewSet, basename="run")
router.register("entities", views.EntityViewSet, basename="entity")
router.register("events", views.EventViewSet, basename="event")
router.register("datasets", datasets.DatasetViewSet, basename="dataset")
router.register("dataset-imports", datasets.DatasetImportViewSet, basename="dataset-import")
router.register("devices", iot.DeviceViewSet, basename="device")
router.register("datastreams", iot.DatastreamViewSet, basename="datastream")
router.register("ingest-batches", iot.IngestBatchViewSet, basename="ingest-batch")
router.register("series-imports", iot.SeriesImportViewSet, basename="series-import")
router.register("documents", text_views.DocumentViewSet, basename="document")
router.register("opinion", text_views.OpinionViewSet, basename="opinion")
router.register("internet-sources", text_views.InternetSourceViewSet, basename="internet-source")
router.register("alert-rules", monitoring.AlertRuleViewSet, basename="alert-rule")
router.register("alerts", monitoring.AlertViewSet, basename="alert")
router.register("alert-preferences", monitoring.PreferenceViewSet, basename="alert-preference")
router.register("webhooks", monitoring.WebhookViewSet, basename="webhook")
router.register("webhook-deliveries", monitoring.WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = [
    path("observations/ingest/", iot.ObservationIngestView.as_view(), name="observation-ingest"),
    path("sources/<slug:code>/push/", text_views.PushView.as_view(), name="datahub-source-push"),
    *router.urls,
]
