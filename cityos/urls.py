from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from . import views
from .health import health

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", health, name="health"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("monitoring/", include("datahub.views.monitoring")),
    path("api/v1/", include("cityos.api.urls")),
    path("datahub/", include("datahub.urls")),
    path("datahub/text/", include("datahub.urls_text")),
    path("open311/v2/", include("governance.open311.urls")),
    path("governance/", include("governance.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
