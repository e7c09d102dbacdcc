"""Issue 11, item 3: a tracking number is sequential and published (Open311), so alone it opens
nothing; the citizen's link carries an unguessable key, or the citizen gives the last 4 digits of
the phone they reported with. The page and the API share one throttle."""

import base64

import pytest
from django.core.cache import cache

from governance.models import Case
from governance.selectors.cases import PHONE_TRIES, case_citizen_path
from governance.services.cases import case_create, case_transition
from governance.throttles import TrackThrottle

pytestmark = pytest.mark.django_db
API = "/api/v1/governance/track"


@pytest.fixture
def resolved(city):
    case = case_create(
        channel="hotline", title="噪音扰民", lon=city.P1[0], lat=city.P1[1], reporter_phone="+86 139 1234 5678"
    )
    case_transition(case_id=case.id, action="accept", actor=city.officer)
    case_transition(case_id=case.id, action="resolve", actor=city.officer, note="已整改")
    return Case.objects.get(pk=case.pk)


def test_every_case_gets_its_own_key_of_at_least_128_random_bits(city):
    keys = [case_create(channel="api", title=f"噪音{i}", lon=city.P1[0], lat=city.P1[1]).citizen_key for i in range(5)]
    assert len(set(keys)) == 5
    for key in keys:
        assert len(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))) * 8 >= 128


def test_the_number_alone_shows_nothing_and_rates_nothing(api_client, client, resolved):
    number = resolved.tracking_number
    assert api_client.get(f"{API}/{number}/").status_code == 404
    assert api_client.post(f"{API}/{number}/", {"rating": 1}, format="json").status_code == 404
    body = client.get("/governance/track/", {"n": number}).content.decode()
    assert 'id="case-status"' not in body and resolved.title not in body
    client.post("/governance/track/rate/", {"n": number, "rating": "1"})
    resolved.refresh_from_db()
    assert (resolved.rating, resolved.status) == (None, "resolved")


def test_a_wrong_key_or_wrong_digits_are_refused_like_an_unknown_number(api_client, resolved):
    number = resolved.tracking_number
    for params in ({"key": resolved.citizen_key[:-1] + "x"}, {"phone_last4": "0000"}, {"key": ""}):
        resp = api_client.get(f"{API}/{number}/", params)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    assert api_client.get(f"{API}/BJ00000000-000000/", {"key": resolved.citizen_key}).status_code == 404


def test_the_key_opens_and_rates_and_a_low_rating_reopens(api_client, resolved):
    url = f"{API}/{resolved.tracking_number}/"
    resp = api_client.get(url, {"key": resolved.citizen_key})
    assert resp.status_code == 200 and resp.json()["status"] == "resolved"
    resp = api_client.post(url, {"rating": 1, "comment": "没解决", "key": resolved.citizen_key}, format="json")
    assert resp.status_code == 200
    resolved.refresh_from_db()
    assert resolved.rating == 1 and resolved.status != "resolved" and resolved.reopen_count == 1


def test_the_last_four_phone_digits_open_the_page_and_rate(client, resolved):
    number = resolved.tracking_number
    body = client.get("/governance/track/", {"n": number, "p": "5678"}).content.decode()
    assert 'id="case-status"' in body and "13912345678" not in body and "139 1234" not in body
    assert case_citizen_path(resolved).replace("&", "&amp;") in body  # the private link, to keep
    resp = client.post("/governance/track/rate/", {"n": number, "p": "5678", "rating": "5", "comment": "好"})
    assert resp.status_code == 302
    resolved.refresh_from_db()
    assert (resolved.rating, resolved.rating_comment) == (5, "好")


def test_the_private_link_opens_the_page(client, resolved):
    body = client.get(case_citizen_path(resolved)).content.decode()
    assert 'id="case-status"' in body and 'id="rate-form"' in body


def test_guessing_phone_digits_locks_the_phone_factor_of_that_case(api_client, resolved):
    url = f"{API}/{resolved.tracking_number}/"
    for i in range(PHONE_TRIES):
        assert api_client.get(url, {"phone_last4": f"{i:04d}"}).status_code == 404
    assert api_client.get(url, {"phone_last4": "5678"}).status_code == 404  # locked, even the right digits
    assert api_client.get(url, {"key": resolved.citizen_key}).status_code == 200  # the key still works


def test_a_case_without_a_phone_cannot_be_opened_by_digits(api_client, city):
    case = case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1])
    assert api_client.get(f"{API}/{case.tracking_number}/", {"phone_last4": "0000"}).status_code == 404


def test_the_page_and_the_api_share_one_throttle(api_client, client, resolved, monkeypatch):
    monkeypatch.setattr(TrackThrottle, "rate", "3/min")
    cache.clear()
    url = f"{API}/{resolved.tracking_number}/"
    assert [api_client.get(url, {"key": resolved.citizen_key}).status_code for _ in range(2)] == [200, 200]
    page = {"n": resolved.tracking_number, "k": resolved.citizen_key}
    assert client.get("/governance/track/", page).status_code == 200  # the third request of this client
    assert client.get("/governance/track/", page).status_code == 429
    assert api_client.get(url, {"key": resolved.citizen_key}).status_code == 429
    resp = client.post("/governance/track/rate/", {**page, "rating": "1"})
    resolved.refresh_from_db()
    assert resp.status_code == 302 and resolved.rating is None


def test_open311_lists_requests_without_the_key(client, resolved):
    body = client.get("/open311/v2/requests.json").content.decode()
    assert resolved.tracking_number in body and resolved.citizen_key not in body
