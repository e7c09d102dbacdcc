from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("cases", views.CaseViewSet, basename="gov-case")
router.register("categories", views.CategoryViewSet, basename="gov-category")
router.register("dispatch-rules", views.DispatchRuleViewSet, basename="gov-dispatch-rule")
router.register("personal-data-access", views.PersonalDataAccessViewSet, basename="gov-personal-data-access")

urlpatterns = [
    path("track/<str:number>/", views.PublicTrackView.as_view(), name="gov-track"),
    path("patrol-reports/", views.PatrolReportView.as_view(), name="gov-patrol-report"),
    path("efficiency/", views.EfficiencyView.as_view(), name="gov-efficiency"),
    *router.urls,
]
