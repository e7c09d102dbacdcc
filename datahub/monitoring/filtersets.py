import django_filters

from cityos.api.fields import BoundedIsoDateTimeFilter
from datahub.monitoring.models import Alert, AlertRule


class AlertFilterSet(django_filters.FilterSet):
    raised_after = BoundedIsoDateTimeFilter(field_name="raised_at", lookup_expr="gte")
    raised_before = BoundedIsoDateTimeFilter(field_name="raised_at", lookup_expr="lt")
    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains")

    class Meta:
        model = Alert
        fields = ["status", "severity", "acknowledged", "rule", "department", "assignee", "area", "datastream"]


class AlertRuleFilterSet(django_filters.FilterSet):
    class Meta:
        model = AlertRule
        fields = ["kind", "severity", "metric", "department", "is_active", "datastream"]
