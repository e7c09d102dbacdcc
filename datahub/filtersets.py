import django_filters

from datahub.models import Alert, AlertRule


class AlertFilterSet(django_filters.FilterSet):
    raised_after = django_filters.IsoDateTimeFilter(field_name="raised_at", lookup_expr="gte")
    raised_before = django_filters.IsoDateTimeFilter(field_name="raised_at", lookup_expr="lt")
    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains")

    class Meta:
        model = Alert
        fields = ["status", "severity", "acknowledged", "rule", "department", "assignee", "area"]


class AlertRuleFilterSet(django_filters.FilterSet):
    class Meta:
        model = AlertRule
        fields = ["kind", "severity", "metric", "department", "is_active"]
