"""Monitoring pages: the alert console, the rule editor (with a 7-day replay preview) and
notification preferences; then the configuration pages: escalation chains per department and
alert webhooks (staff event subscriptions, with their delivery log). Department-scoped like the
console: a user sees the chains of the departments they see; changing a chain or a webhook takes
a managing role (administrator, city leader, department officer) within that scope; city-wide
webhooks are for administrators. Views parse, call a service, render."""

import json
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cityos.access import staff_required
from cityos.models import EventDelivery
from cityos.roles import Role
from cityos.webhooks import catalogue
from datahub.monitoring import selectors as sel
from datahub.monitoring.filtersets import AlertFilterSet
from datahub.monitoring.forms import (
    PARAM_EXAMPLES,
    EscalationPolicyForm,
    LevelFormSet,
    PreferenceForm,
    RuleForm,
    WebhookForm,
)
from datahub.monitoring.models import AlertRule, Channel, NotificationPreference, Severity
from datahub.monitoring.selectors import alert_counts, alerts_visible, assignable_users, rule_can, rules_visible
from datahub.monitoring.services import alerts as alert_services
from datahub.monitoring.services import escalation as escalation_services
from datahub.monitoring.services import rules as rule_services
from datahub.monitoring.services import webhooks as webhook_services


def _assignable_users(user):
    return assignable_users(user)


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
        # The live refresh: the rows, and the count cards (from the same scoped queryset) in a
        # header, so a pushed alert changes both.
        response = render(request, "datahub/monitoring/_alert_rows.html", context)
        response["X-CityOS-Alert-Counts"] = json.dumps(context["counts"])
        return response
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
    return render(
        request, "datahub/monitoring/rules.html", {"rules": rules, "can_create": rule_can(request.user, "preview")}
    )


@login_required
def rule_edit(request, rule_id: int | None = None):
    rule = get_object_or_404(rules_visible(request.user), id=rule_id) if rule_id else None
    if rule is None and not rule_can(request.user, "preview"):
        raise PermissionDenied  # roles that may create no rule at all get no editor
    # A new rule starts as the user's department's: only administrators make city-wide rules.
    initial = {} if rule or request.user.is_city_wide else {"department": request.user.department_id}
    form = RuleForm(request.POST or None, instance=rule, initial=initial)
    if request.method == "POST" and form.is_valid():
        department = form.cleaned_data.get("department")
        dept_id = department.id if department else None
        allowed = (
            rule_can(request.user, "create", department_id=dept_id)
            if rule is None
            else rule_can(request.user, "change", rule, department_id=dept_id)
        )
        if not allowed:
            raise PermissionDenied
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
        {
            "form": form,
            "rule": rule,
            "examples": json.dumps(PARAM_EXAMPLES),
            "kinds": AlertRule.Kind.choices,
            "can_save": rule_can(request.user, "change", rule, department_id=rule.department_id) if rule else True,
        },
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


# Configuration pages: escalation policies and alert webhooks (staff event subscriptions).

SECRET_SESSION_KEY = "monitoring.webhook_secret.{}"  # noqa: S105 - a session key name, not a secret
DELIVERY_STATUSES = EventDelivery.Status.choices


def _event_labels() -> dict:
    return {code: e.label for code, e in catalogue.EVENTS.items()} | {catalogue.TEST_EVENT: _("Test")}


def manager_required(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not sel.can_manage(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


# --- escalation chains ------------------------------------------------------------------------------


@staff_required
def escalation_list(request):
    policies = list(sel.escalation_policies_visible(request.user))
    roles, channels = dict(Role.choices), dict(Channel.choices)
    for policy in policies:
        policy.can_edit = sel.can_manage_department(request.user, policy.department_id)
        for level in policy.levels.all():
            level.role_labels = [roles.get(r, r) for r in level.roles]
            level.channel_labels = [channels.get(c, c) for c in level.channels]
    taken = {p.department_id for p in policies}
    can_add = sel.departments_manageable(request.user).exclude(id__in=taken).exists()
    return render(request, "datahub/monitoring/escalation_list.html", {"policies": policies, "can_add": can_add})


def _level_initial(policy) -> list[dict]:
    return [
        {
            "after_minutes": level.after_minutes,
            "users": list(level.users.all()),
            "roles": level.roles,
            "channels": level.channels,
        }
        for level in policy.levels.order_by("level")
    ]


@manager_required
def escalation_edit(request, policy_id: int | None = None):
    user = request.user
    policy = get_object_or_404(sel.escalation_policies_visible(user), id=policy_id) if policy_id else None
    if policy is not None and not sel.can_manage_department(user, policy.department_id):
        raise PermissionDenied
    departments = sel.departments_manageable(user)
    # One chain per department: a new one only for departments without a chain yet.
    taken = sel.escalation_policies_visible(user).values_list("department_id", flat=True)
    departments = departments.exclude(id__in=taken.exclude(id=policy.id) if policy else taken)
    initial = None
    if policy is not None:
        initial = {
            "department": policy.department_id,
            "repeat_minutes": policy.repeat_minutes,
            "is_active": policy.is_active,
        }
    form = EscalationPolicyForm(request.POST or None, departments=departments, initial=initial, prefix="chain")
    levels = LevelFormSet(
        request.POST or None,
        initial=_level_initial(policy) if policy else None,
        prefix="levels",
        form_kwargs={"recipients": sel.escalation_recipients(user)},
    )
    if request.method == "POST" and form.is_valid() and levels.is_valid():
        specs = [
            escalation_services.LevelSpec(
                after_minutes=f.cleaned_data["after_minutes"],
                user_ids=[u.id for u in f.cleaned_data.get("users") or []],
                roles=f.cleaned_data.get("roles") or [],
                channels=f.cleaned_data.get("channels") or [],
            )
            for f in levels.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        try:
            policy = escalation_services.escalation_policy_save(
                department_id=form.cleaned_data["department"].id,
                levels=specs,
                repeat_minutes=form.cleaned_data["repeat_minutes"],
                is_active=form.cleaned_data["is_active"],
                policy=policy,
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Escalation chain saved."))
            return redirect("monitoring:escalation-edit", policy_id=policy.id)
    return render(
        request, "datahub/monitoring/escalation_form.html", {"form": form, "levels": levels, "policy": policy}
    )


@manager_required
def escalation_delete(request, policy_id: int):
    policy = get_object_or_404(sel.escalation_policies_visible(request.user), id=policy_id)
    if not sel.can_manage_department(request.user, policy.department_id):
        raise PermissionDenied
    if request.method == "POST":
        escalation_services.escalation_policy_delete(policy=policy)
        messages.success(request, _("Escalation chain deleted."))
        return redirect("monitoring:escalation")
    return render(
        request,
        "datahub/monitoring/confirm_delete.html",
        {
            "what": _("the escalation chain of %(department)s") % {"department": policy.department},
            "back": "monitoring:escalation-edit",
            "back_id": policy.id,
        },
    )


# --- webhooks -------------------------------------------------------------------------------------


def _webhook_for(request, webhook_id: int):
    # webhooks_visible already keeps to what the user may change (scope + role).
    return get_object_or_404(sel.webhooks_visible(request.user), id=webhook_id)


@manager_required
def webhook_list(request):
    endpoints = list(sel.webhooks_visible(request.user))
    counts = sel.delivery_counts([e.id for e in endpoints])
    labels = _event_labels()
    for e in endpoints:
        e.counts = counts.get(e.id, {})
        e.event_labels = [labels.get(code, code) for code in e.events]
    return render(request, "datahub/monitoring/webhooks.html", {"endpoints": endpoints})


def _webhook_form(request, instance=None):
    return WebhookForm(
        request.POST or None,
        instance=instance,
        departments=sel.departments_manageable(request.user),
        allow_citywide=sel.is_administrator(request.user),
    )


def _webhook_fields(form) -> dict:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "url": data["url"],
        "department_id": data["department"].id if data.get("department") else None,
        "events": data.get("events") or [],
        "min_severity": data.get("min_severity") or "",
        "max_attempts": data["max_attempts"],
        "disable_after": data["disable_after"],
    }


@manager_required
def webhook_new(request):
    form = _webhook_form(request)
    if request.method == "POST" and form.is_valid():
        endpoint, secret = webhook_services.webhook_create(created_by=request.user, **_webhook_fields(form))
        # Shown once, on the next page view; only its HMAC signatures ever leave the server again.
        request.session[SECRET_SESSION_KEY.format(endpoint.id)] = secret
        messages.success(request, _("Webhook created."))
        return redirect("monitoring:webhook", webhook_id=endpoint.id)
    return render(request, "datahub/monitoring/webhook_form.html", {"form": form, "endpoint": None})


@manager_required
def webhook_detail(request, webhook_id: int):
    endpoint = _webhook_for(request, webhook_id)
    form = _webhook_form(request, instance=endpoint)
    if request.method == "POST":
        if form.is_valid():
            webhook_services.webhook_update(endpoint=endpoint, **_webhook_fields(form))
            messages.success(request, _("Webhook saved."))
            return redirect("monitoring:webhook", webhook_id=endpoint.id)
        endpoint.refresh_from_db()  # the form put unsaved values on the instance
    status = request.GET.get("status", "")
    deliveries = endpoint.deliveries.order_by("-created_at", "-id")
    if status in dict(DELIVERY_STATUSES):
        deliveries = deliveries.filter(status=status)
    page = Paginator(deliveries, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "datahub/monitoring/webhook_detail.html",
        {
            "endpoint": endpoint,
            "form": form,
            "secret": request.session.pop(SECRET_SESSION_KEY.format(endpoint.id), None),
            "page": page,
            "deliveries": page.object_list,
            "status": status,
            "statuses": DELIVERY_STATUSES,
            "event_labels": _event_labels(),
            "counts": sel.delivery_counts([endpoint.id]).get(endpoint.id, {}),
        },
    )


@manager_required
@require_POST
def webhook_action(request, webhook_id: int):
    """The buttons of a webhook's page: test, re-enable, disable, rotate the secret, redeliver."""
    endpoint = _webhook_for(request, webhook_id)
    action = request.POST.get("action", "")
    if action == "test":
        webhook_services.webhook_send_test(endpoint=endpoint, actor=request.user)
        messages.success(request, _("Test delivery queued: its result appears in the delivery log."))
    elif action == "reenable":
        if webhook_services.webhook_reenable(endpoint=endpoint):
            messages.success(request, _("Webhook re-enabled."))
        else:
            messages.info(request, _("The webhook is already enabled."))
    elif action == "disable":
        if webhook_services.webhook_disable(endpoint=endpoint, actor=request.user):
            messages.success(request, _("Webhook disabled."))
        else:
            messages.info(request, _("The webhook is already disabled."))
    elif action == "rotate":
        secret = webhook_services.webhook_rotate_secret(endpoint=endpoint)
        request.session[SECRET_SESSION_KEY.format(endpoint.id)] = secret
        messages.success(request, _("New signing secret made: the old one no longer works."))
    elif action == "redeliver":
        raw = request.POST.get("delivery", "")
        delivery = endpoint.deliveries.filter(id=int(raw) if raw.isdigit() else 0, status="dead").first()
        if delivery is None:
            messages.error(request, _("Choose a dead-lettered delivery of this webhook."))
        else:
            webhook_services.webhook_redeliver(delivery=delivery)
            messages.success(request, _("Delivery queued again; the webhook is enabled."))
    else:
        messages.error(request, _("Unknown action."))
    return redirect("monitoring:webhook", webhook_id=endpoint.id)


@manager_required
def webhook_delete(request, webhook_id: int):
    endpoint = _webhook_for(request, webhook_id)
    if request.method == "POST":
        webhook_services.webhook_delete(endpoint=endpoint)
        messages.success(request, _("Webhook deleted."))
        return redirect("monitoring:webhooks")
    return render(
        request,
        "datahub/monitoring/confirm_delete.html",
        {
            "what": _("the webhook %(name)s and its delivery log") % {"name": endpoint.name},
            "back": "monitoring:webhook",
            "back_id": endpoint.id,
        },
    )
