"""Every page of every role renders with the demo city's own data: no 500 anywhere.

The demo city is built once (≈ 6 s); then, for every demo login (and an anonymous visitor), every
URL pattern of the site is requested with GET — detail pages once for one object of each kind the
demo has (every rule, every alert of each rule kind, a case in each status, every dataset and
import, a device of each type, a document per source…) — and the links each page shows are
followed once per (view, query parameters) shape, so filters, tabs and pagination are covered too.
Any 5xx fails the test, with the role, the URL and the exception.
"""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import Resolver404, get_resolver, resolve
from django.urls.resolvers import URLPattern, URLResolver

from tests.demo_snapshot import demo_city

pytestmark = pytest.mark.django_db(transaction=False)

# /health/ answers 503 by design when a component (the Celery worker, the broker) is down; it
# has its own tests.
SKIP_PREFIXES = ("/static/", "/admin/", "/api/", "/logout/", "/i18n/", "/health/", "/ckan/", "/ngsi-ld/")
HREF = re.compile(r'href="(/[^"#]*)"')
MAX_LINKS_PER_ROLE = 160


def _patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def _objects() -> dict[str, list]:
    """One value (or a few) per URL keyword argument, chosen to cover every kind the demo has."""
    from cityos.models import EventSubscription
    from datahub.models import (
        Alert,
        AlertRule,
        Dataset,
        DatasetImport,
        Device,
        Document,
        Entity,
        EscalationPolicy,
        SeriesImport,
    )
    from governance.models import Case

    def one_per(qs, field):
        seen, out = set(), []
        for obj_id, value in qs.values_list("id", field):
            if value not in seen:
                seen.add(value)
                out.append(obj_id)
        return out

    return {
        "rule_id": list(AlertRule.objects.values_list("id", flat=True)),
        "alert_id": one_per(Alert.objects.order_by("id"), "rule__kind")
        + one_per(Alert.objects.order_by("id"), "status"),
        "policy_id": list(EscalationPolicy.objects.values_list("id", flat=True)),
        # Monitoring webhooks are the city's own event subscriptions (no application).
        "webhook_id": list(EventSubscription.objects.filter(application__isnull=True).values_list("id", flat=True)),
        "case": one_per(Case.objects.order_by("id"), "status") + one_per(Case.objects.order_by("id"), "channel"),
        "entity": one_per(Entity.objects.order_by("id"), "type"),
        "dataset": list(Dataset.objects.values_list("slug", flat=True)),
        "import": list(DatasetImport.objects.values_list("id", flat=True)),
        "device": one_per(Device.objects.order_by("id"), "device_type"),
        "series_import": list(SeriesImport.objects.values_list("id", flat=True)),
        "document": one_per(Document.objects.order_by("id"), "source_id"),
    }


# URL name (namespace-less) → which object list fills its integer/slug argument.
ARG_SOURCE = {
    "entity-detail": "entity",
    "entity-merge": "entity",
    "entity-split": "entity",
    "dataset-detail": "dataset",
    "dataset-import": "dataset",
    "dataset-entity-mapping": "dataset",
    "import-detail": "import",
    "import-confirm": "import",
    "import-cancel": "import",
    "iot-device": "device",
    "iot-import": "series_import",
    "iot-import-cancel": "series_import",
    "datahub-document": "document",
    "datahub-document-flag": "document",
    "case": "case",
    "case-action": "case",
    "case-reporter": "case",
}
# The wings' and middle platform's pages with arguments are crawled by their own page tests
# (tests/industry, tests/livelihood, tests/datahub/analysis, tests/datahub/search); here their
# argument-free pages load, and the links the crawl finds on them are followed. The developer
# portal's application, key and verification pages: tests/cityos/test_developer_portal.py.
OWN_PAGE_TESTS = ("/industry/", "/livelihood/", "/portal/", "/analysis/", "/cockpit/", "/search/", "/developers/")
# Patterns with two objects in the path: covered by their own tests (governance attachments).
TWO_ARGUMENTS = {"case-attachment"}


def _seed_urls(objects: dict[str, list]) -> list[str]:
    urls = []
    for route, pattern in _patterns():
        path = "/" + route
        if path.startswith(SKIP_PREFIXES) or path.startswith("/open311/"):
            continue
        args = re.findall(r"<(?:(\w+):)?(\w+)>", path)
        if not args:
            urls.append(path)
            continue
        if path.startswith(OWN_PAGE_TESTS) or pattern.name in TWO_ARGUMENTS:
            continue
        (conv, name), *rest = args
        assert not rest, f"{path}: teach this test its second argument"
        source = name if name in objects else ARG_SOURCE.get(pattern.name)
        assert source, f"{path} ({pattern.name}): teach this test which object fills <{name}>"
        for value in objects[source]:
            urls.append(re.sub(r"<[^>]+>", str(value), path, count=1))
    # Open311 (public JSON/XML) and the citizen tracking page.
    from governance.models import Case

    case = Case.objects.order_by("id").first()
    urls += [
        "/open311/v2/discovery.json",
        "/open311/v2/services.json",
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
    ]
    if case:
        urls.append(f"/open311/v2/requests/{case.tracking_number}.json")
    return urls


def _shape(url: str) -> tuple:
    parts = urlsplit(url)
    try:
        match = resolve(parts.path)
    except Resolver404:
        return ("404", parts.path)
    keys = tuple(sorted({k for k, _v in parse_qsl(parts.query)}))
    values = tuple(sorted(parse_qsl(parts.query)))
    # Detail pages: one per object we chose; lists: one per set of query parameters (with the
    # values of a small filter such as ?status=overdue, which select different templates/branches).
    if match.kwargs:
        return (match.view_name, tuple(sorted(match.kwargs.items())), keys)
    return (match.view_name, values if len(values) <= 2 else keys)


def _crawl(client: Client, seeds: list[str], label: str, failures: list) -> int:
    seen_shapes: set = set()
    queue = list(seeds)
    followed = 0
    seeded = set(seeds)
    while queue:
        url = queue.pop(0)
        shape = _shape(url)
        if shape in seen_shapes:
            continue
        seen_shapes.add(shape)
        if url not in seeded:
            followed += 1
            if followed > MAX_LINKS_PER_ROLE:
                continue
        resp = client.get(url)
        if resp.status_code >= 500:
            exc = getattr(resp, "exc_info", None)
            failures.append(f"{label} GET {url} -> {resp.status_code} {exc[1]!r}" if exc else f"{label} {url}")
            continue
        if resp.status_code != 200 or "html" not in resp.get("Content-Type", ""):
            continue
        for href in HREF.findall(resp.content.decode(errors="replace")):
            href = href.replace("&amp;", "&")
            if href.startswith(SKIP_PREFIXES) or href.endswith((".csv", ".xlsx", ".geojson")):
                continue
            # Drop page numbers beyond 2: the second page is enough to exercise pagination.
            parts = urlsplit(href)
            query = [(k, v) for k, v in parse_qsl(parts.query) if not (k == "page" and v not in ("1", "2"))]
            queue.append(parts.path + ("?" + urlencode(query) if query else ""))
    return len(seen_shapes)


def test_it_renders_every_page_for_every_role_with_the_demo_city():
    demo_city()
    # Alerts of every lifecycle state the console shows: cleared and acknowledged ones too.
    from datahub.models import Alert
    from datahub.monitoring.services import alerts

    admin = get_user_model().objects.get(username="admin")
    active = list(Alert.objects.filter(status="active").order_by("id"))
    alerts.alert_acknowledge(alert=active[0], actor=admin)
    alerts.alert_comment(alert=active[0], actor=admin, text="on it")
    alerts.alert_clear(alert=active[1], actor=admin)

    objects = _objects()
    assert len(objects["rule_id"]) >= 5 and objects["case"] and objects["import"]
    seeds = _seed_urls(objects)
    failures: list[str] = []
    visited = defaultdict(int)
    users = list(get_user_model().objects.order_by("username"))
    assert {u.role for u in users} >= {"city_leader", "department_officer", "grid_worker", "analyst"}
    for user in [None, *users]:
        client = Client(raise_request_exception=False)
        if user is not None:
            client.force_login(user)
        label = user.username if user else "anonymous"
        visited[label] = _crawl(client, seeds, label, failures)
    # And the same walk in English for a city-wide role (labels and plurals differ per language).
    client = Client(raise_request_exception=False, headers={"accept-language": "en"})
    client.cookies["django_language"] = "en"
    client.force_login(get_user_model().objects.get(username="leader"))
    visited["leader/en"] = _crawl(client, seeds, "leader/en", failures)
    assert not failures, "\n".join(failures)
    assert all(n > 20 for n in visited.values()), dict(visited)
