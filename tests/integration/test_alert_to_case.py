"""Across apps: a monitoring alert opens a governance case through the domain-event bus, and
closing the case links the alert to it and clears it (the rule says so)."""

import pytest
from django.utils import timezone

from datahub.models import Alert
from datahub.monitoring.services.evaluate import on_observations
from governance.models import Case
from governance.services.cases import case_transition
from tests.datahub.monitoring.factories import make_rule

pytestmark = pytest.mark.django_db(transaction=True)


def _raise(rule_area_id, value=180):
    on_observations(
        [
            {
                "datastream_id": 7,
                "metric": "pm25",
                "device_type": "air_quality",
                "area_id": rule_area_id,
                "subject_id": None,
                "time": timezone.now(),
                "value": value,
            }
        ]
    )


def test_an_alert_opens_one_case_and_closing_the_case_clears_the_alert(city):
    rule = make_rule(
        params={"op": ">", "threshold": 150, "duration_s": 0},
        severity="critical",
        open_case=True,
        clear_on_case_close=True,
    )
    _raise(city.grid1.id)
    alert = Alert.objects.get(rule=rule)
    case = Case.objects.get(origin_ref=f"alert:{alert.id}")
    assert (case.origin, case.channel, case.title) == ("alert", "alert", alert.title)
    assert case.area_id == city.grid1.id
    assert case.attributes["rule_name"] == rule.name
    # The alert stays open while the case is being handled.
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ACTIVE

    case_transition(case_id=case.id, action="reject", note="handled on site")

    alert.refresh_from_db()
    assert alert.case_id == case.id
    assert alert.case_tracking_number == case.tracking_number
    assert alert.status == Alert.Status.CLEARED


def test_a_rule_without_open_case_opens_no_case(city):
    rule = make_rule(params={"op": ">", "threshold": 150, "duration_s": 0}, open_case=False)
    _raise(None)
    assert Alert.objects.filter(rule=rule).exists()
    assert not Case.objects.exists()
