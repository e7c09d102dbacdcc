import pytest
from django.core.management import call_command

from datahub.models import Alert, AlertRule, EscalationLevel

pytestmark = pytest.mark.django_db


def test_it_adds_monitoring_to_the_demo_city_once():
    call_command("demo_city", "--quiet-logins")
    first = (AlertRule.objects.count(), Alert.objects.count(), EscalationLevel.objects.count())
    call_command("demo_city", "--quiet-logins")
    assert (AlertRule.objects.count(), Alert.objects.count(), EscalationLevel.objects.count()) == first
    assert first == (5, 4, 2)
    assert set(AlertRule.objects.values_list("kind", flat=True)) == set(AlertRule.Kind.values) - {"combination"}
