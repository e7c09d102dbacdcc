from django.urls import path

from . import patrol, views

app_name = "governance"

urlpatterns = [
    path("track/", views.track, name="track"),
    path("track/rate/", views.rate, name="rate"),
    path("intake/", views.intake, name="intake"),
    path("intake/suggest/", views.intake_suggest_view, name="intake-suggest"),
    path("intake/places/", views.intake_places, name="intake-places"),
    path("knowledge/", views.knowledge, name="knowledge"),
    path("cases/", views.inbox, name="inbox"),
    path("cases/bulk/", views.bulk, name="bulk"),
    path("cases/<int:pk>/", views.case_detail, name="case"),
    path("cases/<int:pk>/action/", views.case_action, name="case-action"),
    path("cases/<int:pk>/reporter/", views.case_reporter, name="case-reporter"),
    path("cases/<int:pk>/attachments/<int:attachment_pk>/", views.case_attachment, name="case-attachment"),
    path("rules/", views.rules, name="rules"),
    path("supervision/", views.supervision, name="supervision"),
    path("efficiency/", views.efficiency, name="efficiency"),
    path("efficiency/export.csv", views.efficiency_export, name="efficiency-export"),
    path("map/", views.case_map, name="map"),
    path("patrol/", patrol.patrol, name="patrol"),
]
