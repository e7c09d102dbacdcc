from django.urls import path

from . import views

app_name = "governance"

urlpatterns = [
    path("track/", views.track, name="track"),
    path("track/rate/", views.rate, name="rate"),
    path("intake/", views.intake, name="intake"),
    path("cases/", views.inbox, name="inbox"),
    path("cases/bulk/", views.bulk, name="bulk"),
    path("cases/<int:pk>/", views.case_detail, name="case"),
    path("cases/<int:pk>/action/", views.case_action, name="case-action"),
    path("rules/", views.rules, name="rules"),
    path("supervision/", views.supervision, name="supervision"),
    path("efficiency/", views.efficiency, name="efficiency"),
    path("efficiency/export.csv", views.efficiency_export, name="efficiency-export"),
    path("map/", views.case_map, name="map"),
]
