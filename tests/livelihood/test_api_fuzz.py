"""Schemathesis over the livelihood API: no input, however odd, makes a 500 (anonymous and as staff)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from cityos.wsgi import application
from tests.livelihood.conftest import clear_throttles

schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(path_regex=r"^/api/v1/livelihood/")


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """As Django's test client does: the WSGI handler must not close the test's connection per request."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(db):
    from rest_framework.authtoken.models import Token

    from tests.factories import make_department, make_user

    return Token.objects.create(user=make_user(department=make_department())).key


# Transactional: a request that fails in the database (answered 400/409) must not leave a shared
# test transaction aborted for the requests after it (as with the real server, each commits alone).
@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_livelihood_api_never_answers_500(case, staff_token):
    clear_throttles()  # the anonymous throttles would turn later examples into 429s
    for headers in ({}, {"Authorization": f"Token {staff_token}"}):
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:500])
