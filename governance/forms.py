from django import forms
from django.utils.translation import gettext_lazy as _

from governance.models import Category, DispatchRule, Priority


class IntakeForm(forms.Form):
    """The hotline operator's form (12345 受理)."""

    title = forms.CharField(label=_("Title"), max_length=300)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}), required=False)
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=Category.objects.filter(is_active=True).order_by("code"),
        required=False,
        empty_label=_("(automatic)"),
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    address = forms.CharField(label=_("Address or place"), max_length=300, required=False)
    lon = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90)
    reporter_name = forms.CharField(label=_("Caller name"), max_length=100, required=False)
    reporter_phone = forms.CharField(label=_("Caller phone"), max_length=32, required=False)

    def clean(self):
        data = super().clean()
        if (data.get("lon") is None) != (data.get("lat") is None):
            raise forms.ValidationError(_("Give both longitude and latitude, or neither."))
        return data


class DispatchRuleForm(forms.ModelForm):
    class Meta:
        model = DispatchRule
        fields = ["category", "area", "department", "order", "note", "is_active"]
