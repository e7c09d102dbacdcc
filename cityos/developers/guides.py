"""Copy-paste guides per API family (curl and Python), shown at /developers/guides/.

`{base}` is the deployment's address and `$CITYOS_KEY` the developer's key (never a real one)."""

from django.utils.translation import gettext_lazy as _

GUIDES = [
    {
        "key": "datasets",
        "title": _("Open datasets"),
        "scope": "datasets:read, records:read",
        "text": _("List the public datasets, then read a dataset's rows."),
        "curl": 'curl -H "Authorization: Api-Key $CITYOS_KEY" "{base}/api/v1/datahub/datasets/?page_size=10"',
        "python": (
            "import os, requests\n"
            'h = {"Authorization": f"Api-Key {os.environ[\'CITYOS_KEY\']}"}\n'
            'r = requests.get("{base}/api/v1/datahub/datasets/", headers=h, timeout=10)\n'
            'for ds in r.json()["results"]:\n'
            '    print(ds["slug"], ds["title"])'
        ),
    },
    {
        "key": "ckan",
        "title": _("CKAN-compatible open data API"),
        "scope": _("none for public datasets"),
        "text": _("Existing CKAN clients and harvesters work unchanged at /ckan/api/3/action/."),
        "curl": 'curl "{base}/ckan/api/3/action/package_search?q=air&rows=5"',
        "python": (
            "from ckanapi import RemoteCKAN\n"
            'ckan = RemoteCKAN("{base}/ckan")\n'
            'print(ckan.action.package_search(q="air", rows=5)["count"])'
        ),
    },
    {
        "key": "ngsi-ld",
        "title": _("NGSI-LD context API"),
        "scope": "ngsi-ld:read, ngsi-ld:write",
        "text": _(
            "Devices, facilities, enterprises and areas as NGSI-LD entities; batch upserts of up to 1,000 entities."
        ),
        "curl": (
            'curl -H "Authorization: Api-Key $CITYOS_KEY" -H "Accept: application/ld+json" \\\n'
            '  "{base}/ngsi-ld/v1/entities?type=AdministrativeArea&limit=5"'
        ),
        "python": (
            "import os, requests\n"
            'h = {"Authorization": f"Api-Key {os.environ[\'CITYOS_KEY\']}"}\n'
            'body = [{"id": "urn:ngsi-ld:AirQualityObserved:demo-1", "type": "AirQualityObserved",\n'
            '         "NO2": {"type": "Property", "value": 22}}]\n'
            'r = requests.post("{base}/ngsi-ld/v1/entityOperations/upsert", json=body, headers=h, timeout=10)\n'
            "print(r.status_code)"
        ),
    },
    {
        "key": "iot",
        "title": _("IoT devices and observations"),
        "scope": "iot:read",
        "text": _("Devices, their datastreams and time series of observations."),
        "curl": 'curl -H "Authorization: Api-Key $CITYOS_KEY" "{base}/api/v1/datahub/devices/"',
        "python": (
            "import os, requests\n"
            'h = {"Authorization": f"Api-Key {os.environ[\'CITYOS_KEY\']}"}\n'
            'print(requests.get("{base}/api/v1/datahub/devices/", headers=h, timeout=10).json()["count"])'
        ),
    },
    {
        "key": "search",
        "title": _("Search"),
        "scope": "search:read",
        "text": _("One search over every public item (Chinese, English and pinyin)."),
        "curl": 'curl -H "Authorization: Api-Key $CITYOS_KEY" "{base}/api/v1/search/?q=park"',
        "python": (
            "import os, requests\n"
            'h = {"Authorization": f"Api-Key {os.environ[\'CITYOS_KEY\']}"}\n'
            'print(requests.get("{base}/api/v1/search/", params={"q": "park"}, headers=h, timeout=10).json())'
        ),
    },
    {
        "key": "events",
        "title": _("Event subscriptions (webhooks)"),
        "scope": "events:subscribe",
        "text": _(
            "Subscribe an HTTPS endpoint to domain events. Each delivery is signed: "
            "X-CityOS-Signature = sha256=HMAC-SHA256(secret, timestamp + '.' + body). "
            "Answer 2xx within 10 s; failures are retried with exponential backoff."
        ),
        "curl": (
            'curl -X POST -H "Authorization: Api-Key $CITYOS_KEY" -H "Content-Type: application/json" \\\n'
            '  -d \'{"name": "my hook", "url": "https://example.org/hook", "events": ["dataset.updated"]}\' \\\n'
            '  "{base}/api/v1/events/subscriptions/"'
        ),
        "python": (
            "import hashlib, hmac, time\n\n"
            "def verify(secret: str, headers, body: bytes) -> bool:\n"
            '    ts = headers["X-CityOS-Timestamp"]\n'
            "    if abs(time.time() - int(ts)) > 300:\n"
            "        return False  # a replay\n"
            '    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()\n'
            '    return hmac.compare_digest("sha256=" + mac, headers["X-CityOS-Signature"])'
        ),
    },
]
