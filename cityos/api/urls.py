"""`/api/v1/`: one router per app, mounted under its own prefix."""

from django.urls import include, path

from .views import MeView, ObtainTokenView

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("auth/me/", MeView.as_view(), name="api-me"),
    path("datahub/", include("datahub.api.urls")),
    path("governance/", include("governance.api.urls")),
]
