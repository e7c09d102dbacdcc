from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from datahub.analysis import views as analysis_views

from . import pwa, views
from .health import health
from .maps import map_base

handler404 = "cityos.views.page_not_found"
handler500 = "cityos.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", health, name="health"),
    path("manifest.webmanifest", pwa.manifest, name="pwa-manifest"),
    path("sw.js", pwa.service_worker, name="pwa-service-worker"),
    path("offline/", pwa.offline, name="pwa-offline"),
    path("map/base.geojson", map_base, name="map-base"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("monitoring/", include("datahub.monitoring.urls")),
    path("api/v1/", include("cityos.api.urls")),
    path("developers/", include("cityos.developers.urls")),
    path("datahub/", include("datahub.urls")),
    path("datahub/text/", include("datahub.text.urls")),
    path("open311/v2/", include("governance.open311.urls")),
    path("ckan/", include("datahub.ckan.urls")),
    path("ngsi-ld/v1/", include("datahub.ngsild.urls")),
    path("governance/", include("governance.urls")),
    path("search/", include("datahub.search.urls")),
    path("industry/", include("industry.urls")),
    path("livelihood/", include("livelihood.urls")),
    path("portal/", include("livelihood.urls_portal")),
    path("analysis/", include("datahub.analysis.urls")),
    path("cockpit/", analysis_views.cockpit, name="cockpit"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
