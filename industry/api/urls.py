from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("enterprises", views.EnterpriseViewSet, basename="ind-enterprise")
router.register("policies", views.PolicyViewSet, basename="ind-policy")
router.register("grants", views.GrantViewSet, basename="ind-grant")
router.register("appeals", views.AppealViewSet, basename="ind-appeal")
router.register("parks", views.ParkViewSet, basename="ind-park")
router.register("industry-codes", views.IndustryCodeViewSet, basename="ind-code")
router.register("tags", views.TagViewSet, basename="ind-tag")

urlpatterns = [
    path("indicators/", views.IndicatorUploadView.as_view(), name="ind-indicators"),
    path("dashboard/", views.DashboardView.as_view(), name="ind-dashboard"),
    path("chain/", views.ChainView.as_view(), name="ind-chain"),
    *router.urls,
]
