"""The project's URLs plus two views that fail, to see the error pages a visitor would get."""

from django.core.exceptions import SuspiciousOperation
from django.urls import path

from cityos.urls import handler404, handler500
from cityos.urls import urlpatterns as project_urls


def boom(request):
    raise RuntimeError("secret detail: DATABASE password hunter2")


def bad(request):
    raise SuspiciousOperation("tampered")


urlpatterns = [path("boom/", boom), path("api/v1/boom/", boom), path("bad/", bad), *project_urls]
__all__ = ["handler404", "handler500", "urlpatterns"]
