from django import forms
from django.utils.translation import gettext_lazy as _

from cityos.i18n import local_name
from datahub import facade
from governance.models import Category, DispatchRule, KnowledgeArticle, Priority


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
    # Set by the map picker or the address search (not typed): hidden inputs the page's script fills.
    lon = forms.FloatField(
        label=_("Longitude"), required=False, min_value=-180, max_value=180, widget=forms.HiddenInput
    )
    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    reporter_name = forms.CharField(label=_("Caller name"), max_length=100, required=False)
    reporter_phone = forms.CharField(label=_("Caller phone"), max_length=32, required=False)
    department = forms.TypedChoiceField(label=_("Department"), required=False, coerce=int, empty_value=None)
    # A direct answer (直接答复): the knowledge-base article told to the caller.
    article = forms.ModelChoiceField(
        queryset=KnowledgeArticle.objects.filter(is_active=True), required=False, widget=forms.HiddenInput
    )

    field_order = ["reporter_phone", "reporter_name", "title", "description", "address", "category", "department"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", _("(automatic)"))] + [
            (d.id, local_name(d)) for d in facade.department_list()
        ]

    def clean(self):
        data = super().clean()
        if (data.get("lon") is None) != (data.get("lat") is None):
            raise forms.ValidationError(_("Pick the place on the map or search an address (the point is incomplete)."))
        return data


class KnowledgeArticleForm(forms.ModelForm):
    class Meta:
        model = KnowledgeArticle
        fields = ["question", "question_en", "answer", "answer_en", "keywords", "category", "is_active"]
        widgets = {"answer": forms.Textarea(attrs={"rows": 4}), "answer_en": forms.Textarea(attrs={"rows": 3})}


class DispatchRuleForm(forms.ModelForm):
    class Meta:
        model = DispatchRule
        fields = ["category", "area", "department", "order", "note", "is_active"]
