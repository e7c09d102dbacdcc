"""A case opened by a monitoring alert takes its category and department from the alert's rule
(issue 11, item 12), through the real path: rule → alert → `monitoring.alert_raised` → case."""

import pytest
from django.test import TestCase
from django.utils import timezone

from datahub.monitoring.services import alerts
from governance.models import Case, ClassifierRule, DispatchRule
from tests.datahub.monitoring.factories import make_rule
from tests.factories import make_department, make_user
from tests.governance.factories import make_category

pytestmark = pytest.mark.django_db


@pytest.fixture
def housing_trap(city):
    """What went wrong: 物业纠纷 claims any text with 小区 (a station's address) and goes to housing."""
    housing = make_department(name="住建局")
    property_ = make_category(name="物业纠纷", name_en="Property management", code="property-x")
    ClassifierRule.objects.create(category=property_, keywords="小区,物业")
    DispatchRule.objects.create(category=property_, department=housing)
    air = make_category(parent=city.environment, name="大气污染", name_en="Air pollution", code="air-x")
    from governance.services.classification import classifier_cache_reset
    from governance.services.refcache import refcache_reset_all

    classifier_cache_reset()
    refcache_reset_all()
    return air, housing


def _raise(rule, subject_key="翠苑小区站"):
    with TestCase.captureOnCommitCallbacks(execute=True):
        alert, _ = alerts.alert_raise(rule=rule, subject_key=subject_key, at=timezone.now(), value=188.0)
    return alert


def test_an_alert_case_takes_the_rules_category_and_department_not_a_guess_from_its_title(city, housing_trap):
    air, _housing = housing_trap
    rule = make_rule(name="PM2.5 高于 150 小区监测", case_category=air.code, department_id=city.env.id, open_case=True)
    alert = _raise(rule)
    case = Case.objects.get(origin_ref=f"alert:{alert.id}")
    assert case.category_id == air.id
    assert case.department_id == city.env.id
    assert case.classification == {"source": "origin"}
    assert case.attributes["rule_id"] == rule.id


def test_the_rules_department_wins_over_the_categorys_dispatch_rules(city):
    # Noise in this district is dispatched to urban management; the rule says environment.
    rule = make_rule(name="噪声超标", case_category=city.noise.code, department_id=city.env.id, open_case=True)
    case = Case.objects.get(origin_ref=f"alert:{_raise(rule).id}")
    assert (case.category_id, case.department_id) == (city.noise.id, city.env.id)


def test_a_rule_without_a_category_opens_an_uncategorised_case_in_its_department(city, housing_trap):
    rule = make_rule(name="小区 PM2.5", department_id=city.env.id, open_case=True)
    case = Case.objects.get(origin_ref=f"alert:{_raise(rule).id}")
    assert (case.category_id, case.department_id) == (None, city.env.id)


def test_the_rule_api_and_form_edit_the_category_and_refuse_unknown_codes(city, housing_trap, api_client):
    from cityos.roles import Role

    air, _ = housing_trap
    admin = make_user(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    api_client.force_authenticate(admin)
    base = {"name": "PM2.5", "kind": "threshold", "metric": "pm25", "params": {"op": ">", "threshold": 150}}
    bad = api_client.post("/api/v1/datahub/alert-rules/", {**base, "case_category": "nope"}, format="json")
    assert bad.status_code == 400 and "case_category" in str(bad.json())
    ok = api_client.post("/api/v1/datahub/alert-rules/", {**base, "case_category": air.code}, format="json")
    assert ok.status_code == 201, ok.content
    assert ok.json()["case_category"] == air.code
    from django.test import Client

    client = Client()
    client.force_login(admin)
    html = client.get(f"/monitoring/rules/{ok.json()['id']}/").content.decode()
    assert f'<option value="{air.code}" selected>' in html and "环境 › 大气污染" in html
    html = client.get(f"/admin/datahub/alertrule/{ok.json()['id']}/change/").content.decode()
    assert f'<option value="{air.code}" selected>' in html
