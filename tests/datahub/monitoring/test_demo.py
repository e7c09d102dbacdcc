import pytest

from datahub.models import Alert, AlertRule, EscalationLevel
from tests.demo_snapshot import demo_city

pytestmark = pytest.mark.django_db


def test_it_adds_monitoring_to_the_demo_city_once():
    demo_city()
    first = (AlertRule.objects.count(), Alert.objects.count(), EscalationLevel.objects.count())
    demo_city()
    assert (AlertRule.objects.count(), Alert.objects.count(), EscalationLevel.objects.count()) == first
    assert first == (5, 4, 2)
    assert set(AlertRule.objects.values_list("kind", flat=True)) == set(AlertRule.Kind.values) - {"combination"}
