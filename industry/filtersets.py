import django_filters
from django.db.models import Q

from industry.models import Appeal, Enterprise, Grant, Policy


class EnterpriseFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", max_length=200)
    status = django_filters.MultipleChoiceFilter(choices=Enterprise.Status.choices)
    size = django_filters.MultipleChoiceFilter(choices=Enterprise.Size.choices)
    industry = django_filters.CharFilter(method="filter_industry", max_length=8)
    tag = django_filters.CharFilter(field_name="tags__code", max_length=40)
    area = django_filters.NumberFilter(field_name="area_id", min_value=1, max_value=2**31 - 1)
    park = django_filters.NumberFilter(field_name="park_id", min_value=1, max_value=2**31 - 1)
    risk_level = django_filters.MultipleChoiceFilter(choices=Enterprise.RiskLevel.choices)
    located = django_filters.ChoiceFilter(choices=Enterprise.Located.choices)
    department = django_filters.NumberFilter(field_name="department_id", min_value=1, max_value=2**31 - 1)

    class Meta:
        model = Enterprise
        fields = ["status", "size", "area", "park", "risk_level", "located", "department"]

    def filter_q(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(
            Q(name__icontains=value) | Q(name_en__icontains=value) | Q(uscc=value.upper()) | Q(address__icontains=value)
        )

    def filter_industry(self, qs, name, value):
        value = value.strip().upper()
        return qs.filter(Q(industry_code=value) | Q(section_code=value)) if value else qs


class PolicyFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Policy.Status.choices)
    automatic = django_filters.BooleanFilter()
    q = django_filters.CharFilter(method="filter_q", max_length=200)

    class Meta:
        model = Policy
        fields = ["status", "automatic"]

    def filter_q(self, qs, name, value):
        value = value.strip()
        return qs.filter(Q(title__icontains=value) | Q(title_en__icontains=value) | Q(code=value)) if value else qs


class GrantFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Grant.Status.choices)
    policy = django_filters.NumberFilter(field_name="policy_id", min_value=1, max_value=2**31 - 1)
    enterprise = django_filters.NumberFilter(field_name="enterprise_id", min_value=1, max_value=2**31 - 1)

    class Meta:
        model = Grant
        fields = ["status", "policy", "enterprise"]


class AppealFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Appeal.Status.choices)
    enterprise = django_filters.NumberFilter(field_name="enterprise_id", min_value=1, max_value=2**31 - 1)

    class Meta:
        model = Appeal
        fields = ["status", "enterprise"]
