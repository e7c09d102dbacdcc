"""Schemathesis over the whole OpenAPI schema (/api/schema/), as an administrator and as the
external developer: no 5xx, every response matches its documented schema and status code.

Generic on purpose: every operation the schema lists is fuzzed, so operations added later are
covered without touching this file. The budget (examples per operation and generation mode) is
bounded so both runs take ~2 minutes on an idle 2-core machine; raise CITYOS_FUZZ_EXAMPLES locally
for a deeper search (25 passes).

Half of the generated cases have their path parameters replaced by identifiers that exist (read
from the collection the path sits under), so the fuzzer reaches details and custom actions of
real objects instead of 404s only.
"""

import logging
import os
import random
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from cityos.wsgi import application
from tests.demo_snapshot import demo_city as build_demo

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("CITYOS_FUZZ_EXAMPLES", "6"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
PARAM = re.compile(r"\{([^}]+)\}")


def _known_values(schema, headers) -> dict[str, list]:
    """For every path template with parameters, values of its first parameter that exist: the
    collection under it is read and each result's field of the same name (or `id`) taken."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=headers["Authorization"])
    known: dict[str, list] = {}
    for path in {op.ok().path for op in schema.get_all_operations()}:
        m = PARAM.search(path)
        if not m or path[: m.start()] in known:
            continue
        prefix, name = path[: m.start()], m.group(1)
        values: list = []
        resp = client.get(prefix, {"page_size": 5})
        if resp.status_code == 200 and resp.get("Content-Type", "").startswith("application/json"):
            body = resp.json()
            rows = body.get("results", body.get("features", [])) if isinstance(body, dict) else body
            for row in rows if isinstance(rows, list) else []:
                if isinstance(row, dict):
                    value = row.get(name, row.get("id", (row.get("properties") or {}).get("id")))
                    if value is not None:
                        values.append(value)
        known[prefix] = values
    return known


def _fuzz(schema, headers) -> dict[tuple, str]:
    known = _known_values(schema, headers)
    failures: dict[tuple, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        m = PARAM.search(operation.path)
        real = known.get(operation.path[: m.start()], []) if m else []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run_operation(operation, mode, headers, m.group(1) if m else None, real, failures)
    return failures


def _run_operation(operation, mode, headers, param, real, failures) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), use_real=st.booleans())
    def run(case, use_real):
        if use_real and real and case.path_parameters:
            case.path_parameters[param] = random.choice(real)  # noqa: S311 - not crypto
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect every failure, report them all
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            title = next((line for line in lines if line.startswith("- ")), lines[0] if lines else repr(exc))
            key = (operation.label, title, response.status_code)
            if key not in failures:  # one example of each distinct failure
                detail = " | ".join(lines[1:7])[:600]
                failures[key] = f"{detail}\n    {case.as_curl_command(headers=headers)[:400]}"

    try:
        run()
    except Unsatisfiable:  # nothing to break (negative mode on an operation without inputs)
        pass


@pytest.fixture
def demo_city(transactional_db):
    build_demo()


@pytest.mark.parametrize("username", ["admin", "developer"])
def test_it_answers_every_operation_without_server_errors_or_schema_violations(demo_city, username, caplog):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    token, _ = Token.objects.get_or_create(user=user)
    headers = {"Authorization": f"Token {token.key}"}
    caplog.set_level(logging.ERROR, logger="django.request")  # thousands of expected 4xx warnings
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    failures = _fuzz(schema, headers)
    report = "\n".join(f"{op} {title} -> {status}: {detail}" for (op, title, status), detail in failures.items())
    assert not failures, f"{len(failures)} distinct failures:\n{report}"
