import pytest

from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_it_exchanges_username_and_password_for_a_token(api_client, user):
    resp = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")
    assert resp.status_code == 200
    token = resp.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api_client.get("/api/v1/auth/me/")
    assert me.status_code == 200
    assert me.json()["username"] == user.username


def test_it_refuses_a_wrong_password_with_a_json_error(api_client, user):
    resp = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": "nope"}, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_credentials"


def test_it_names_the_missing_field(api_client):
    resp = api_client.post("/api/v1/auth/token/", {"username": "x"}, format="json")
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "validation_error"
    assert "password" in err["fields"]
    assert err["message"].startswith("password:")


def test_it_requires_authentication_with_the_json_error_format(api_client):
    resp = api_client.get("/api/v1/datahub/departments/")
    assert resp.status_code in (401, 403)
    assert resp.json()["error"]["code"] == "not_authenticated"


def test_it_rejects_a_bad_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token deadbeef")
    resp = api_client.get("/api/v1/auth/me/")
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "authentication_failed"


def test_it_paginates_lists(auth_client):
    from tests.factories import make_department

    for _ in range(5):
        make_department()
    resp = auth_client.get("/api/v1/datahub/departments/?page_size=2")
    body = resp.json()
    assert resp.status_code == 200
    assert body["count"] >= 6
    assert len(body["results"]) == 2
    assert body["next"]


def test_it_serves_the_openapi_schema_and_local_swagger_ui(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/auth/token/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()


def test_it_keeps_tokens_per_user(api_client):
    a = make_user()
    b = make_user()
    ta = api_client.post("/api/v1/auth/token/", {"username": a.username, "password": PASSWORD}, format="json").json()
    tb = api_client.post("/api/v1/auth/token/", {"username": b.username, "password": PASSWORD}, format="json").json()
    assert ta["token"] != tb["token"]
