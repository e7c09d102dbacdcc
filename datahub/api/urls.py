from django.urls import path
from rest_framework.routers import DefaultRouter

from . import text_views, views

router = DefaultRouter()
router.register("departments", views.DepartmentViewSet, basename="department")
router.register("documents", text_views.DocumentViewSet, basename="document")
router.register("opinion", text_views.OpinionViewSet, basename="opinion")
router.register("internet-sources", text_views.InternetSourceViewSet, basename="internet-source")

urlpatterns = [
    path("sources/<slug:code>/push/", text_views.PushView.as_view(), name="datahub-source-push"),
    *router.urls,
]
