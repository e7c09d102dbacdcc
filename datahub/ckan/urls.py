"""/ckan/…: the CKAN-compatible open data API (see views.py)."""

from django.urls import path

from . import views

app_name = "ckan"

urlpatterns = [
    path("api/3/action/<str:name>", views.action, name="action"),
    # CKAN serves the same actions unversioned; the ckanapi client calls this form.
    path("api/action/<str:name>", views.action, name="action-unversioned"),
    path("dataset/<slug:slug>/download.csv", views.download, name="download"),
]
