"""Pages of the core: entities and areas (`/datahub/…`, namespace `datahub`)."""

from django.urls import path

from datahub.core import views

urlpatterns = [
    path("entities/", views.entity_list, name="entity-list"),
    path("entities/<int:pk>/", views.entity_detail, name="entity-detail"),
    path("entities/<int:pk>/merge/", views.entity_merge, name="entity-merge"),
    path("entities/<int:pk>/split/", views.entity_split, name="entity-split"),
    path("areas/", views.area_browser, name="area-browser"),
]
