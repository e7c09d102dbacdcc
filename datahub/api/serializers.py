from rest_framework import serializers

from datahub.models import Department


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "code", "name", "name_en", "kind", "parent", "path", "phone", "is_active"]
