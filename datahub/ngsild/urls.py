"""/ngsi-ld/v1/…: the NGSI-LD context API (see views.py). More specific routes first: entity ids
are URIs and may hold slashes."""

from django.urls import path, re_path

from . import views

app_name = "ngsild"

urlpatterns = [
    path("contexts/core.jsonld", views.core_context, name="core-context"),
    path("entities", views.entities, name="entities"),
    path("entities/", views.entities),
    re_path(r"^entities/(?P<eid>.+)/attrs/(?P<attr>[^/]+)$", views.entity_attr, name="entity-attr"),
    re_path(r"^entities/(?P<eid>.+)/attrs/?$", views.entity_attrs, name="entity-attrs"),
    re_path(r"^entities/(?P<eid>.+?)/?$", views.entity, name="entity"),
    re_path(r"^entityOperations/(?P<operation>create|upsert|update|delete)/?$", views.batch, name="batch"),
    path("types", views.types, name="types"),
    path("types/", views.types),
    re_path(r"^temporal/entities/(?P<eid>.+?)/?$", views.temporal_entity, name="temporal-entity"),
    path("subscriptions", views.subscriptions, name="subscriptions"),
    path("subscriptions/", views.subscriptions),
    re_path(r"^subscriptions/(?P<sid>.+?)/?$", views.subscription, name="subscription"),
]
