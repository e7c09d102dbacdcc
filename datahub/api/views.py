from rest_framework import viewsets

from datahub.models import Department

from .serializers import DepartmentSerializer


class DepartmentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Department.objects.order_by("path")
    serializer_class = DepartmentSerializer
    filterset_fields = ["kind", "parent", "is_active"]
    search_fields = ["name", "name_en", "code"]
