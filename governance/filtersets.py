import django_filters
from django.db.models import Q
from django.utils import timezone

from cityos.api.fields import BoundedIsoDateTimeFilter
from governance.models import OPEN_STATUSES, Case, Channel, Priority, Status


class CaseFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    priority = django_filters.ChoiceFilter(choices=Priority.choices)
    category = django_filters.NumberFilter(field_name="category_id")
    department = django_filters.NumberFilter(field_name="department_id")
    district = django_filters.NumberFilter(field_name="district_id")
    grid = django_filters.NumberFilter(field_name="grid_id")
    assignee = django_filters.NumberFilter(field_name="assignee_id")
    created_after = BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    open = django_filters.BooleanFilter(method="filter_open")
    overdue = django_filters.BooleanFilter(method="filter_overdue")
    # The hotline's triage queue: received, no department yet (the classifier was not sure enough,
    # or no rule names a department).
    triage = django_filters.BooleanFilter(method="filter_triage")
    q = django_filters.CharFilter(method="filter_q")

    class Meta:
        model = Case
        fields = ["status", "channel", "priority", "category", "department", "district", "grid", "assignee"]

    def filter_open(self, qs, name, value):
        return qs.filter(status__in=OPEN_STATUSES) if value else qs.exclude(status__in=OPEN_STATUSES)

    def filter_overdue(self, qs, name, value):
        cond = Q(status__in=OPEN_STATUSES, sla_paused_at__isnull=True, due_at__lte=timezone.now())
        return qs.filter(cond) if value else qs.exclude(cond)

    def filter_triage(self, qs, name, value):
        cond = Q(status=Status.RECEIVED, department__isnull=True)
        return qs.filter(cond) if value else qs.exclude(cond)

    def filter_q(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(Q(tracking_number=value) | Q(title__icontains=value) | Q(address__icontains=value))
