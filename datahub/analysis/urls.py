"""/analysis/ pages (namespace "analysis"); the cockpit is mounted at /cockpit/ by cityos.urls."""

from django.urls import path

from . import views

app_name = "analysis"

urlpatterns = [
    path("", views.index, name="index"),
    path("trends/", views.trends_page, name="trends"),
    path("hotspots/", views.hotspots_page, name="hotspots"),
    path("situations/", views.situations_page, name="situations"),
    path("situations/<int:pk>/verdict/", views.situation_verdict, name="situation-verdict"),
    path("efficiency/", views.efficiency_page, name="efficiency"),
    path("briefings/", views.briefings, name="briefings"),
    path("briefings/<int:pk>/", views.briefing_detail, name="briefing"),
    path("briefings/<int:pk>/pdf/", views.briefing_pdf, name="briefing-pdf"),
]
