"""Forms of the monitoring pages."""

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from datahub.models import AlertRule, NotificationPreference
from datahub.services.monitoring.evaluators import RuleParamError
from datahub.services.monitoring.rules import rule_validate

PARAM_EXAMPLES = {
    "threshold": {"op": ">", "threshold": 150, "duration_s": 7200, "clear_threshold": 120, "max_gap_s": 3600},
    "rate_of_change": {"rate_per_hour": 80, "clear_rate_per_hour": 20, "direction": "rise", "min_span_s": 1800},
    "no_data": {"timeout_s": 3600},
    "anomaly": {"z": 3.5, "clear_z": 1.5, "seasonal": "hour_of_week", "window": 8, "utc_offset_s": 28800},
    "event_count": {"event_type": "complaint.noise", "window_s": 3600, "count": 20, "clear_count": 10},
    "combination": {
        "mode": "all",
        "children": [
            {"kind": "threshold", "metric": "pm25", "params": {"threshold": 150}},
            {"kind": "threshold", "metric": "pm10", "params": {"threshold": 250}},
        ],
    },
}


class RuleForm(forms.ModelForm):
    params = forms.CharField(label=_("Parameters (JSON)"), widget=forms.Textarea(attrs={"rows": 8, "class": "mono"}))

    class Meta:
        model = AlertRule
        fields = [
            "name",
            "description",
            "kind",
            "severity",
            "metric",
            "device_type",
            "area",
            "subject",
            "datastream_id",
            "department",
            "open_case",
            "clear_on_case_close",
            "is_active",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "area": forms.NumberInput(),
            "subject": forms.NumberInput(),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["kind"].initial = AlertRule.Kind.THRESHOLD
        self.fields["params"].initial = json.dumps(
            self.instance.params if self.instance.pk else PARAM_EXAMPLES["threshold"], ensure_ascii=False, indent=1
        )

    def clean_params(self):
        try:
            value = json.loads(self.cleaned_data["params"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The parameters must be a JSON object."))
        return value

    def clean(self):
        data = super().clean()
        if "params" in data and data.get("kind"):
            try:
                data["params"] = rule_validate(
                    kind=data["kind"], params=data["params"], metric=data.get("metric") or ""
                )
            except RuleParamError as exc:
                self.add_error("metric" if str(exc).startswith("metric") else "params", str(exc))
        return data


class PreferenceForm(forms.ModelForm):
    rule_kinds = forms.MultipleChoiceField(
        label=_("Rule kinds"),
        choices=AlertRule.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every kind"),
    )

    class Meta:
        model = NotificationPreference
        fields = ["enabled", "min_severity", "rule_kinds", "quiet_start", "quiet_end", "quiet_action"]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}),
        }
