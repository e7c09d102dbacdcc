"""Browser: an external developer signs up, confirms the e-mail, is approved, registers an
application, creates a key (shown once) and calls the API with it."""

import re

import pytest
import requests
from django.core import mail

from cityos.api import keys
from cityos.models import DeveloperOrganisation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_signup_to_a_working_key(live_server, page):
    page.goto(f"{live_server.url}/developers/")
    page.click("#signup-link")
    page.fill("#id_username", "webdev")
    page.fill("#id_email", "webdev@example.org")
    page.fill("#id_password", "a-long-password-1")
    page.fill("#id_organisation", "网页开发公司")
    page.click("#signup-form button[type=submit]")
    page.wait_for_selector("#signup-done")
    link = re.search(r"(http://\S+/developers/verify/\S+/)", mail.outbox[-1].body).group(1)
    page.goto(link)
    page.wait_for_selector("#awaiting-approval")
    # An administrator approves the organisation (admin action "approve").
    DeveloperOrganisation.objects.filter(name="网页开发公司").update(is_approved=True)
    page.goto(f"{live_server.url}/developers/")
    page.fill("#app-form input[name=name]", "空气质量应用")
    page.click("#app-form button[type=submit]")
    page.fill("#key-form input[name=name]", "production")
    page.check("#key-form input[value='account:read']")
    page.click("#key-form button[type=submit]")
    text = page.inner_text("#new-key").strip()
    assert text.startswith("cos_")
    keys._cache.clear()
    r = requests.get(f"{live_server.url}/api/v1/auth/me/", headers={"Authorization": f"Api-Key {text}"}, timeout=10)
    assert r.status_code == 200 and r.json()["username"] == "webdev"
    page.reload()
    assert page.locator("#new-key").count() == 0  # the secret is shown once
