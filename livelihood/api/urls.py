from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("services", views.ServiceViewSet, basename="liv-service")
router.register("life-events", views.LifeEventViewSet, basename="liv-life-event")
router.register("facilities", views.FacilityViewSet, basename="liv-facility")
router.register("offices", views.OfficeViewSet, basename="liv-office")
router.register("slots", views.SlotViewSet, basename="liv-slot")
router.register("appointments", views.AppointmentViewSet, basename="liv-appointment")
router.register("notices", views.NoticeViewSet, basename="liv-notice")
router.register("ratings", views.RatingViewSet, basename="liv-rating")
router.register("reports", views.ReportViewSet, basename="liv-report")

urlpatterns = router.urls
