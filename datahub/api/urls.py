from rest_framework.routers import DefaultRouter

from . import monitoring, views

router = DefaultRouter()
router.register("departments", views.DepartmentViewSet, basename="department")
router.register("alert-rules", monitoring.AlertRuleViewSet, basename="alert-rule")
router.register("alerts", monitoring.AlertViewSet, basename="alert")
router.register("alert-preferences", monitoring.PreferenceViewSet, basename="alert-preference")
router.register("webhooks", monitoring.WebhookViewSet, basename="webhook")
router.register("webhook-deliveries", monitoring.WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = router.urls
