"""django-filter classes for the datahub API."""

import django_filters
from django.db.models import Q

from datahub.models import Alert, AlertRule, Datastream, Device, Document, Entity, Event, Run, Sentiment, Source, Topic
from datahub.selectors.areas import area_subtree_sql
from datahub.selectors.documents import document_search


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
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    subject = django_filters.NumberFilter(field_name="subject_id")
    source = django_filters.NumberFilter(field_name="source_id")
    actor = django_filters.NumberFilter(field_name="actor_id")

    class Meta:
        model = Event
        fields = ["type", "subject", "source", "actor"]

    def filter_area(self, qs, name, value):
        return qs.filter(area_id__in=area_subtree_sql(int(value)))


class DeviceFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Device.Status.choices, method="filter_status")

    class Meta:
        model = Device
        fields = ["device_type", "area", "owner_department", "is_active"]

    def filter_status(self, qs, name, value):
        return qs.online() if value == Device.Status.ONLINE else qs.offline()


class DatastreamFilter(django_filters.FilterSet):
    device_key = django_filters.CharFilter(field_name="device__key")

    class Meta:
        model = Datastream
        fields = ["device", "metric"]


class DocumentFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="full-text query (Chinese is segmented with jieba)")
    topic = django_filters.ChoiceFilter(choices=Topic.choices)
    sentiment = django_filters.ChoiceFilter(choices=Sentiment.choices)
    language = django_filters.ChoiceFilter(choices=Document.Language.choices)
    source = django_filters.NumberFilter(field_name="source_id")
    area = django_filters.NumberFilter(method="filter_area", label="area id (district or any tagged area)")
    cluster = django_filters.NumberFilter(field_name="cluster_id")
    published_after = django_filters.IsoDateTimeFilter(field_name="published_at", lookup_expr="gte")
    published_before = django_filters.IsoDateTimeFilter(field_name="published_at", lookup_expr="lt")
    flagged = django_filters.BooleanFilter(field_name="flagged_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Document
        fields = []

    def filter_q(self, queryset, name, value):
        ids = document_search(q=value).values("id")
        return queryset.filter(id__in=ids) if value.strip() else queryset

    def filter_area(self, queryset, name, value):
        return queryset.filter(Q(district_id=value) | Q(area_links__area_id=value)).distinct()


class AlertFilterSet(django_filters.FilterSet):
    raised_after = django_filters.IsoDateTimeFilter(field_name="raised_at", lookup_expr="gte")
    raised_before = django_filters.IsoDateTimeFilter(field_name="raised_at", lookup_expr="lt")
    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains")

    class Meta:
        model = Alert
        fields = ["status", "severity", "acknowledged", "rule", "department", "assignee", "area", "datastream"]


class AlertRuleFilterSet(django_filters.FilterSet):
    class Meta:
        model = AlertRule
        fields = ["kind", "severity", "metric", "department", "is_active", "datastream"]
