import django_filters

from datahub.iot.models import Datastream, Device


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
