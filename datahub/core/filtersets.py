"""django-filter classes for the datahub API."""

import django_filters
from django.db.models import Q

from cityos.api.fields import BoundedIsoDateTimeFilter
from datahub.core.models import Entity, Event, Run, Source
from datahub.core.selectors.areas import area_subtree_sql


class CharInFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    pass


class SourceFilter(django_filters.FilterSet):
    class Meta:
        model = Source
        fields = ["kind", "owner_department", "connector", "is_active"]


class RunFilter(django_filters.FilterSet):
    class Meta:
        model = Run
        fields = ["source", "status"]


class EntityFilter(django_filters.FilterSet):
    type = CharInFilter(field_name="type", help_text="one type, or several separated by commas")
    area = django_filters.NumberFilter(method="filter_area", help_text="area id; includes its sub-areas")
    q = django_filters.CharFilter(method="filter_q", help_text="name, English name or identifier value")
    scheme = django_filters.CharFilter(field_name="identifiers__scheme", distinct=True)
    identifier = django_filters.CharFilter(field_name="identifiers__value", distinct=True)
    include_merged = django_filters.BooleanFilter(method="filter_merged", help_text="also list merged-away entities")

    class Meta:
        model = Entity
        fields = ["type", "department"]

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("include_merged"):
            queryset = queryset.filter(merged_into=None)
        return super().filter_queryset(queryset)

    def filter_area(self, qs, name, value):
        return qs.filter(area_id__in=area_subtree_sql(int(value)))

    def filter_q(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        ident = Entity.objects.filter(identifiers__value=value).values("id")
        return qs.filter(Q(name__icontains=value) | Q(name_en__icontains=value) | Q(id__in=ident))

    def filter_merged(self, qs, name, value):
        return qs


class EventFilter(django_filters.FilterSet):
    type = CharInFilter(field_name="type", help_text="one type, or several separated by commas")
    type_prefix = django_filters.CharFilter(field_name="type", lookup_expr="startswith")
    area = django_filters.NumberFilter(method="filter_area", help_text="area id; includes its sub-areas")
    since = BoundedIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = BoundedIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    subject = django_filters.NumberFilter(field_name="subject_id")
    source = django_filters.NumberFilter(field_name="source_id")
    actor = django_filters.NumberFilter(field_name="actor_id")

    class Meta:
        model = Event
        fields = ["type", "subject", "source", "actor"]

    def filter_area(self, qs, name, value):
        return qs.filter(area_id__in=area_subtree_sql(int(value)))


