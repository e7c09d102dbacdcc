"""Monitoring pages: the alert console, the rule editor (with a 7-day replay preview) and
notification preferences; escalation chains and webhooks are in `monitoring_config`. Views
parse, call a service, render."""

import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cityos.scoping import visible_department_ids
from datahub.filtersets import AlertFilterSet
from datahub.forms_monitoring import PARAM_EXAMPLES, PreferenceForm, RuleForm
from datahub.models import AlertRule, NotificationPreference
from datahub.models.monitoring import Channel, Severity
from datahub.selectors.monitoring import alert_counts, alerts_visible, rules_visible
from datahub.services.monitoring import alerts as alert_services
from datahub.services.monitoring import rules as rule_services

from . import monitoring_config as config

app_name = "monitoring"


def _assignable_users(user):
    qs = get_user_model().objects.filter(is_active=True).order_by("username")
    ids = visible_department_ids(user)
    return qs if ids is None else qs.filter(department_id__in=ids)


@login_required
def console(request):
    params = request.GET.copy()
    params.setdefault("status", "active")
    if params.get("status") == "all":
        params.pop("status")
    filtered = AlertFilterSet(params, queryset=alerts_visible(request.user))
    page = Paginator(filtered.qs, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "alerts": page.object_list,
        "filters": request.GET,
        "status": request.GET.get("status", "active"),
        "severities": Severity.choices,
        "counts": alert_counts(request.user),
        "users": _assignable_users(request.user),
    }
    if request.GET.get("partial"):
        return render(request, "datahub/monitoring/_alert_rows.html", context)
    return render(request, "datahub/monitoring/console.html", context)


@login_required
@require_POST
def console_action(request):
    """One form for row and bulk actions: ids (one or many), action, assignee, text."""
    action = request.POST.get("action", "")
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    # A row's own button acts on that row only, whatever else is ticked.
    for row_action, name in (("acknowledge", "row_ack"), ("clear", "row_clear")):
        if request.POST.get(name, "").isdigit():
            action, ids = row_action, [int(request.POST[name])]
    back = request.POST.get("next") or "monitoring:console"
    alerts = list(alerts_visible(request.user).filter(id__in=ids))
    if not alerts:
        messages.error(request, _("Select at least one alert."))
        return redirect(back)
    if action == "comment":
        text = request.POST.get("text", "").strip()
        if not text:
            messages.error(request, _("A comment cannot be empty."))
            return redirect(back)
        for alert in alerts:
            alert_services.alert_comment(alert=alert, actor=request.user, text=text)
        messages.success(request, _("Comment added."))
        return redirect(back)
    assignee = None
    if action == "assign":
        assignee = _assignable_users(request.user).filter(id=request.POST.get("assignee") or 0).first()
        if assignee is None:
            messages.error(request, _("Choose whom to assign to."))
            return redirect(back)
    if action not in ("acknowledge", "clear", "assign"):
        messages.error(request, _("Unknown action."))
        return redirect(back)
    changed = alert_services.alert_bulk(alerts=alerts, action=action, actor=request.user, assignee=assignee)
    messages.success(request, _("%(n)s alert(s) updated.") % {"n": changed})
    return redirect(back)


@login_required
def alert_detail(request, alert_id: int):
    alert = get_object_or_404(alerts_visible(request.user).select_related("datastream__device"), id=alert_id)
    return render(
        request,
        "datahub/monitoring/alert_detail.html",
        {
            "alert": alert,
            "history": alert.history.select_related("actor").order_by("at", "id"),
            "comments": alert.comments.select_related("author").order_by("created_at", "id"),
            "users": _assignable_users(request.user),
        },
    )


@login_required
def rule_list(request):
    rules = rules_visible(request.user)
    return render(request, "datahub/monitoring/rules.html", {"rules": rules})


@login_required
def rule_edit(request, rule_id: int | None = None):
    rule = get_object_or_404(rules_visible(request.user), id=rule_id) if rule_id else None
    form = RuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in form.Meta.fields}
        fields = {}
        for name, value in data.items():
            if name in ("area", "subject", "department", "datastream"):
                fields[f"{name}_id"] = value.id if value else None
            else:
                fields[name] = value
        fields["params"] = form.cleaned_data["params"]
        if rule is None:
            rule = rule_services.rule_create(created_by=request.user, **fields)
        else:
            rule = rule_services.rule_update(rule=rule, **fields)
        messages.success(request, _("Rule saved."))
        return redirect("monitoring:rule-edit", rule_id=rule.id)
    return render(
        request,
        "datahub/monitoring/rule_form.html",
        {"form": form, "rule": rule, "examples": json.dumps(PARAM_EXAMPLES), "kinds": AlertRule.Kind.choices},
    )


@login_required
def preferences(request):
    forms = []
    ok = True
    for channel, label in Channel.choices:
        pref = NotificationPreference.objects.filter(user=request.user, channel=channel).first()
        if pref is None:
            pref = NotificationPreference(
                user=request.user, channel=channel, min_severity="info" if channel == "in_app" else "major"
            )
        form = PreferenceForm(request.POST or None, instance=pref, prefix=channel)
        forms.append((channel, label, form))
        ok = ok and (request.method != "POST" or form.is_valid())
    if request.method == "POST" and ok:
        for _channel, _label, form in forms:
            form.save()
        messages.success(request, _("Preferences saved."))
        return redirect("monitoring:preferences")
    return render(request, "datahub/monitoring/preferences.html", {"forms": forms})


urlpatterns = [
    path("", console, name="console"),
    path("escalation/", config.escalation_list, name="escalation"),
    path("escalation/new/", config.escalation_edit, name="escalation-new"),
    path("escalation/<int:policy_id>/", config.escalation_edit, name="escalation-edit"),
    path("escalation/<int:policy_id>/delete/", config.escalation_delete, name="escalation-delete"),
    path("webhooks/", config.webhook_list, name="webhooks"),
    path("webhooks/new/", config.webhook_new, name="webhook-new"),
    path("webhooks/<int:webhook_id>/", config.webhook_detail, name="webhook"),
    path("webhooks/<int:webhook_id>/actions/", config.webhook_action, name="webhook-action"),
    path("webhooks/<int:webhook_id>/delete/", config.webhook_delete, name="webhook-delete"),
    path("actions/", console_action, name="action"),
    path("alerts/<int:alert_id>/", alert_detail, name="alert"),
    path("rules/", rule_list, name="rules"),
    path("rules/new/", rule_edit, name="rule-new"),
    path("rules/<int:rule_id>/", rule_edit, name="rule-edit"),
    path("preferences/", preferences, name="preferences"),
]
