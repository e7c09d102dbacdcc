"""The signed push webhook: good deliveries stored, bad signatures, replays and big bodies refused."""

import json
import time

import pytest

from datahub.models import Document, Run
from datahub.text.api import PUSH_MAX_BYTES, push_signature
from tests.datahub.text.factories import make_source

pytestmark = pytest.mark.django_db
SECRET = "s3cret-push-key"


@pytest.fixture
def source():
    return make_source(connector="push", push_secret=SECRET, config={"mapping": {"id": "post_id", "body": "text"}})


def _post(
    client,
    source,
    body: bytes,
    *,
    ts: int | None = None,
    secret: str = SECRET,
    sig: str | None = None,
    nonce: str | None = None,
):
    ts = int(time.time()) if ts is None else ts
    headers = {
        "HTTP_X_CITYOS_TIMESTAMP": str(ts),
        "HTTP_X_CITYOS_SIGNATURE": sig or push_signature(secret, str(ts), body),
    }
    if nonce:
        headers["HTTP_X_CITYOS_NONCE"] = nonce
    return client.post(
        f"/api/v1/datahub/sources/{source.code}/push/", data=body, content_type="application/json", **headers
    )


def _body(n=2, prefix="p"):
    return json.dumps(
        {
            "items": [
                {
                    "post_id": f"{prefix}{i}",
                    "title": "西山区垃圾没人清运",
                    "text": f"西山区小区垃圾堆了三天没人清运，第{i}条",
                }
                for i in range(n)
            ]
        },
        ensure_ascii=False,
    ).encode()


def test_it_stores_a_signed_delivery_as_a_run(client, source):
    resp = _post(client, source, _body())
    assert resp.status_code == 202, resp.content
    data = resp.json()
    assert data["stored"] == 2
    run = Run.objects.get(id=data["run_id"])
    assert run.source_id == source.id and run.status == Run.Status.SUCCEEDED
    assert Document.objects.get(source=source, external_id="p1").body.endswith("第1条")


def test_it_refuses_a_bad_signature(client, source):
    resp = _post(client, source, _body(), secret="wrong-secret")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "bad_signature"
    assert not Document.objects.exists()


def test_it_refuses_a_body_changed_after_signing(client, source):
    ts = int(time.time())
    sig = push_signature(SECRET, str(ts), _body())
    resp = _post(client, source, _body(n=3), ts=ts, sig=sig)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "bad_signature"


def test_it_refuses_missing_signature_headers(client, source):
    resp = client.post(f"/api/v1/datahub/sources/{source.code}/push/", data=_body(), content_type="application/json")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "signature_missing"


def test_it_refuses_a_stale_timestamp(client, source):
    resp = _post(client, source, _body(), ts=int(time.time()) - 3600)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "stale_timestamp"


def test_it_refuses_a_replayed_delivery(client, source):
    body, ts = _body(), int(time.time())
    assert _post(client, source, body, ts=ts).status_code == 202
    again = _post(client, source, body, ts=ts)
    assert again.status_code == 409 and again.json()["error"]["code"] == "replayed"
    assert Run.objects.filter(source=source).count() == 1


def test_it_refuses_a_reused_nonce_with_a_new_signature(client, source):
    assert _post(client, source, _body(prefix="a"), nonce="delivery-1").status_code == 202
    resp = _post(client, source, _body(prefix="b"), nonce="delivery-1")
    assert resp.status_code == 409


def test_it_refuses_an_oversized_body(client, source):
    body = b'{"items": [{"text": "' + b"x" * (PUSH_MAX_BYTES + 10) + b'"}]}'
    resp = _post(client, source, body)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"


def test_it_refuses_a_signed_body_that_is_not_json(client, source):
    resp = _post(client, source, b"{not json")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_json"


def test_it_answers_404_for_an_unknown_source(client, source):
    source.code = "nope"
    resp = _post(client, source, _body())
    assert resp.status_code == 404


def test_it_counts_items_without_text_as_rejected(client, source):
    body = json.dumps({"items": [{"post_id": "e1"}, {"post_id": "ok", "text": "东湾区路灯不亮"}, "junk"]}).encode()
    data = _post(client, source, body).json()
    assert (data["stored"], data["rejected"]) == (1, 2)
    assert Run.objects.get(id=data["run_id"]).status == Run.Status.PARTIAL
