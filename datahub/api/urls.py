from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("departments", views.DepartmentViewSet, basename="department")
router.register("areas", views.AreaViewSet, basename="area")
router.register("sources", views.SourceViewSet, basename="source")
router.register("runs", views.RunViewSet, basename="run")
router.register("entities", views.EntityViewSet, basename="entity")
router.register("events", views.EventViewSet, basename="event")

urlpatterns = router.urls
