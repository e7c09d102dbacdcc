from django import forms
from django.utils.translation import gettext_lazy as _


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File (CSV, XLSX, JSON or GeoJSON)"))
    encoding = forms.ChoiceField(
        label=_("Encoding"),
        required=False,
        choices=[
            ("", _("Detect")),
            ("utf-8", "UTF-8"),
            ("utf-8-sig", "UTF-8 (BOM)"),
            ("gb18030", "GB18030"),
            ("latin-1", "Latin-1"),
            ("cp1252", "Windows-1252"),
        ],
    )
    delimiter = forms.ChoiceField(
        label=_("Separator"),
        required=False,
        choices=[("", _("Detect")), (",", ","), (";", ";"), ("\\t", _("Tab")), ("|", "|")],
    )
