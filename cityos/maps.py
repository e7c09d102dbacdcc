"""The maps' base layer: a configured XYZ tile server (MAP_TILE_URL), or the city's own areas,
roads and facilities drawn as vectors (served here as GeoJSON, cached)."""

import json

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control

from datahub import facade

from .access import public_page

# The base layer changes when areas or the registry's roads change (a few times a year): a cached
# copy for BASEMAP_CACHE_S seconds per language-free URL keeps a map page to one small request.
BASEMAP_CACHE_S = 300
_CACHE_KEY = "cityos:basemap:v1"


def map_config() -> dict:
    """What every map's script needs to draw its base layer."""
    return {
        "tileUrl": settings.MAP_TILE_URL,
        "attribution": settings.MAP_TILE_ATTRIBUTION,
        "baseUrl": reverse("map-base"),
    }


@public_page
@cache_control(max_age=BASEMAP_CACHE_S, public=True)
def map_base(request):
    """The vector base map (district and street boundaries, roads, facilities) as GeoJSON. Public:
    the portal's maps use it too, and boundaries are published data."""
    body = cache.get(_CACHE_KEY)
    if body is None:
        body = json.dumps(facade.basemap_features(), ensure_ascii=False, separators=(",", ":"))
        cache.set(_CACHE_KEY, body, BASEMAP_CACHE_S)
    return HttpResponse(body, content_type="application/geo+json")
