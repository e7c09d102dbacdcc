from django import forms
from django.utils.translation import gettext_lazy as _

from datahub.core.models import Department
from datahub.datasets.models import Dataset, DatasetImport


class DatasetForm(forms.ModelForm):
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas"))

    class Meta:
        model = Dataset
        fields = ["title", "description", "owner_department", "tags", "update_frequency", "licence", "level"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, departments=None, **kwargs):
        super().__init__(*args, **kwargs)
        if departments is not None:
            self.fields["owner_department"].queryset = departments

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        return [t.strip() for t in raw.replace("，", ",").split(",") if t.strip()]


class ConfirmForm(forms.Form):
    mode = forms.ChoiceField(label=_("Mode"), choices=DatasetImport.Mode.choices)
    on_error = forms.ChoiceField(label=_("Invalid rows"), choices=DatasetImport.OnError.choices)


def departments_for(user):
    from cityos.scoping import visible_department_ids

    ids = visible_department_ids(user)
    qs = Department.objects.filter(is_active=True).order_by("path")
    return qs if ids is None or user.role == "administrator" else qs.filter(id__in=ids)


class DatasetMappingMixin:
    """Validates `entity_mapping` against the dataset's columns (admin form)."""

    def clean_entity_mapping(self):
        from datahub.datasets.services.entities import EntityMappingError, entity_mapping_clean

        mapping = self.cleaned_data.get("entity_mapping")
        names = list(self.instance.fields.values_list("name", flat=True)) if self.instance.pk else []
        try:
            return entity_mapping_clean(mapping=mapping, schema_names=names)
        except EntityMappingError as e:
            raise forms.ValidationError(str(e)) from e


class EntityMappingForm(forms.Form):
    """The dataset page's "link rows to entities" form: columns chosen from the dataset's schema."""

    type = forms.ChoiceField(label=_("Entity type"), choices=[("", _("Do not link rows"))])
    name_field = forms.ChoiceField(label=_("Name column"), required=False)
    name_en_field = forms.ChoiceField(label=_("English name column"), required=False)
    id_field = forms.ChoiceField(label=_("Identifier column"), required=False)
    id_scheme = forms.CharField(label=_("Identifier scheme (e.g. licence)"), required=False, max_length=64)

    def __init__(self, *args, columns: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        from datahub.core.models import Entity

        self.fields["type"].choices = [("", _("Do not link rows")), *Entity.Type.choices]
        self.fields["type"].required = False
        cols = [("", "—")] + [(c, c) for c in columns]
        for name in ("name_field", "name_en_field", "id_field"):
            self.fields[name].choices = cols
