"""The analysis API fuzzed from its own OpenAPI schema (schemathesis): no 500s, and 200 JSON
responses match the declared schema (the project-wide fuzz covers every app; this one keeps the
analysis endpoints honest on their own)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.django_db(transaction=True)
PATHS = "^/api/v1/analysis/(trends|hotspots|cockpit|region-stats|nearest|window-join|efficiency|situations|briefings)"


@pytest.fixture
def analyst_token(db):
    from rest_framework.authtoken.models import Token

    from cityos.roles import Role
    from tests.factories import make_user

    return Token.objects.create(user=make_user(role=Role.ANALYST)).key


def _checker(op, token):
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy())
    def check(case):
        resp = case.call(headers={"Authorization": f"Token {token}", "Host": "localhost"})
        assert resp.status_code < 500, (case.path, case.query, resp.status_code, resp.text[:300])
        if resp.status_code == 200 and "json" in resp.headers.get("Content-Type", ""):
            op.validate_response(resp)

    return check


def test_the_analysis_get_operations_never_answer_500_and_match_their_schema(analyst_token):
    from cityos.wsgi import application

    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    failures, checked = [], 0
    for result in schema.include(path_regex=PATHS).get_all_operations():
        op = result.ok()
        if op.method.upper() != "GET":
            continue
        checked += 1
        try:
            _checker(op, analyst_token)()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{op.method} {op.path}: {str(exc)[:500]}")
    assert checked >= 10 and not failures, (checked, failures)
