"""`/api/v1/`: one router per app, mounted under its own prefix."""

from django.urls import include, path

from datahub.search.urls import api_urlpatterns as search_api

from .views import MeView, ObtainTokenView

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("auth/me/", MeView.as_view(), name="api-me"),
    path("events/", include("cityos.webhooks.api")),
    path("datahub/", include("datahub.api_urls")),
    path("governance/", include("governance.api.urls")),
    path("search/", include(search_api)),

    path("industry/", include("industry.api.urls")),

    path("livelihood/", include("livelihood.api.urls")),

    path("analysis/", include("datahub.analysis.api")),
]
