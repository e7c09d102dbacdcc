import django_filters
from django.db.models import Q

from cityos.api.fields import BoundedIsoDateTimeFilter
from datahub.text.models import Document, Sentiment, Topic
from datahub.text.selectors import document_search


class DocumentFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="full-text query (Chinese is segmented with jieba)")
    topic = django_filters.ChoiceFilter(choices=Topic.choices)
    sentiment = django_filters.ChoiceFilter(choices=Sentiment.choices)
    language = django_filters.ChoiceFilter(choices=Document.Language.choices)
    source = django_filters.NumberFilter(field_name="source_id")
    area = django_filters.NumberFilter(method="filter_area", label="area id (district or any tagged area)")
    cluster = django_filters.NumberFilter(field_name="cluster_id")
    published_after = BoundedIsoDateTimeFilter(field_name="published_at", lookup_expr="gte")
    published_before = BoundedIsoDateTimeFilter(field_name="published_at", lookup_expr="lt")
    flagged = django_filters.BooleanFilter(field_name="flagged_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Document
        fields = []

    def filter_q(self, queryset, name, value):
        ids = document_search(q=value).values("id")
        return queryset.filter(id__in=ids) if value.strip() else queryset

    def filter_area(self, queryset, name, value):
        return queryset.filter(Q(district_id=value) | Q(area_links__area_id=value)).distinct()
