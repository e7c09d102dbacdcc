"""The installable app (PWA): a web manifest and a service worker, both served by the site itself.

The service worker must come from the site's root (`/sw.js`) to control every page; it caches the
shell's own static files and an offline page, and never caches pages with data (they are per user
and change by the minute): navigation goes to the network and falls back to the offline page.
"""

import json

from django.http import HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from .access import public_page

# Bump when the cached shell files change, so phones drop the old cache.
CACHE_VERSION = "cityos-shell-1"
SHELL_FILES = [
    "cityos/app.css",
    "cityos/shell.css",
    "cityos/shell.js",
    "vendor/htmx.min.js",
    "cityos/icons/icon.svg",
    "cityos/icons/icon-192.png",
]


@public_page
@require_GET
@cache_control(max_age=3600)
def manifest(request):
    data = {
        "name": _("CityOS · Intelligent city operating system"),
        "short_name": _("CityOS"),
        "description": _("Cases, patrols, alerts and city data for the people who run the city."),
        "id": "/",
        "start_url": reverse("home"),
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "background_color": "#f4f6fa",
        "theme_color": "#0f172a",
        "lang": getattr(request, "LANGUAGE_CODE", "zh-hans"),
        "icons": [
            {"src": static("cityos/icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("cityos/icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static("cityos/icons/maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": static("cityos/icons/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
        "shortcuts": [
            {"name": _("Patrol"), "url": "/governance/patrol/"},
            {"name": _("Case inbox"), "url": "/governance/cases/"},
        ],
    }
    return HttpResponse(json.dumps(data, ensure_ascii=False), content_type="application/manifest+json")


OFFLINE_HTML = """<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>CityOS</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;margin:0;padding:40px 20px;background:#f4f6fa;color:#1f2937}}</style>
</head><body><h1>{title}</h1><p>{text}</p><p><a href="/">{retry}</a></p></body></html>"""

SERVICE_WORKER = """// CityOS service worker: the shell's static files from the cache, pages from the network.
const CACHE = %(cache)s;
const SHELL = %(shell)s;
const OFFLINE = "/offline/";
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL.concat([OFFLINE]))).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});
self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === "navigate") {
    event.respondWith(fetch(req).catch(() => caches.match(OFFLINE)));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(req).then((hit) => hit || fetch(req)));
  }
});
"""


@public_page
@require_GET
def service_worker(request):
    body = SERVICE_WORKER % {
        "cache": json.dumps(CACHE_VERSION),
        "shell": json.dumps([static(f) for f in SHELL_FILES]),
    }
    response = HttpResponse(body, content_type="application/javascript")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response


@public_page
@require_GET
def offline(request):
    from django.utils.html import escape

    html = OFFLINE_HTML.format(
        title=escape(_("You are offline")),
        text=escape(_("CityOS needs a connection for this page.")),
        retry=escape(_("Try again")),
    )
    return HttpResponse(html)
