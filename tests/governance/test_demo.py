import pytest

from governance.models import Case, Category, ClassifierModel, DispatchRule, GridAssignment
from tests.demo_snapshot import demo_city

pytestmark = pytest.mark.django_db


def _snapshot():
    return list(
        Case.objects.order_by("origin_ref").values_list(
            "origin_ref", "title", "category__code", "status", "street__code"
        )
    )


def test_the_demo_city_has_categories_rules_grids_and_realistic_cases(settings):
    demo_city()
    first = _snapshot()
    demo_city()
    assert _snapshot() == first and len(first) == settings.GOVERNANCE_DEMO_CASES
    assert Category.objects.filter(service_code__startswith="BJ-").count() == 16
    assert DispatchRule.objects.count() >= 16 and GridAssignment.objects.filter(worker__username="grid").count() == 4
    # Every demo case got located in a street, and most were dispatched by a rule.
    assert not Case.objects.filter(street__isnull=True).exists()
    assert Case.objects.exclude(department__isnull=True).count() >= len(first) * 0.9
    assert set(Case.objects.values_list("status", flat=True)) >= {"dispatched", "in_progress", "closed"}
    assert ClassifierModel.objects.filter(is_active=True).exists()
