"""`/developers/`: the developer portal (sign-up, applications, keys, usage, event subscriptions, guides).

Sign-up, verification and the guides are open to everyone; the rest needs a signed-in account and
shows only the applications of the developer's own organisations (services.applications_of).
"""

from __future__ import annotations

import csv
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db.models import Sum
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from cityos.access import public_page
from cityos.api import keys
from cityos.models import ApiKey, ApiUsage, EventDelivery, EventSubscription
from cityos.webhooks import catalogue
from cityos.webhooks import services as webhook_services

from . import services
from .guides import GUIDES


class SignupForm(forms.Form):
    username = forms.RegexField(label=_l("User name"), regex=r"^[\w.@+-]{3,150}$", max_length=150)
    email = forms.EmailField(label=_l("E-mail"))
    password = forms.CharField(label=_l("Password"), widget=forms.PasswordInput, min_length=10)
    organisation = forms.CharField(label=_l("Organisation"), max_length=200)
    website = forms.URLField(label=_l("Website"), required=False, assume_scheme="https")


class ApplicationForm(forms.Form):
    name = forms.CharField(label=_l("Name"), max_length=200)
    description = forms.CharField(label=_l("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False)


class KeyForm(forms.Form):
    name = forms.CharField(label=_l("Name"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=_l("Scopes"), choices=[(s, s) for s in keys.ALL_SCOPES], widget=forms.CheckboxSelectMultiple
    )
    expires_in_days = forms.IntegerField(
        label=_l("Expires after (days, empty: never)"), min_value=1, max_value=3650, required=False
    )


class SubscriptionForm(forms.Form):
    name = forms.CharField(label=_l("Name"), max_length=200)
    url = forms.URLField(label=_l("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(label=_l("Events"), choices=(), widget=forms.CheckboxSelectMultiple)
    min_severity = forms.ChoiceField(label=_l("Minimum severity"), required=False, choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = catalogue.event_choices()
        self.fields["min_severity"].choices = [("", "—")] + [(s, s) for s in catalogue.SEVERITIES]


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


@public_page
def index(request):
    if not request.user.is_authenticated:
        return render(request, "developers/index.html", {"guides": GUIDES})
    apps = services.applications_of(request.user).order_by("organisation__name", "name")
    orgs = services.organisations_of(request.user).order_by("name")
    return render(
        request,
        "developers/dashboard.html",
        {"apps": apps, "orgs": orgs, "form": ApplicationForm(), "guides": GUIDES},
    )


@public_page
def signup(request):
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.developer_signup(**form.cleaned_data, base_url=_base_url(request))
        except services.PortalError as e:
            form.add_error(e.field, e.message)
        else:
            return render(request, "developers/signup_done.html", {"email": form.cleaned_data["email"]})
    return render(request, "developers/signup.html", {"form": form})


@public_page
def verify(request, token: str):
    try:
        user = services.developer_verify(token=token)
    except services.PortalError as e:
        return render(request, "developers/verify_failed.html", {"message": e.message}, status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, _("Your e-mail address is confirmed. An administrator will approve your organisation."))
    return redirect("developers:index")


@public_page
def guides(request):
    base = _base_url(request).rstrip("/")
    shown = [
        {**g, "curl": g["curl"].replace("{base}", base), "python": g["python"].replace("{base}", base)} for g in GUIDES
    ]
    return render(request, "developers/guides.html", {"guides": shown})


@login_required
@require_POST
def application_new(request):
    form = ApplicationForm(request.POST)
    org = services.organisations_of(request.user).filter(id=request.POST.get("organisation") or 0).first()
    if org is None:
        org = services.organisations_of(request.user).order_by("id").first()
    if form.is_valid() and org is not None:
        try:
            app = services.application_create(user=request.user, organisation=org, **form.cleaned_data)
        except services.PortalError as e:
            messages.error(request, e.message)
        else:
            return redirect("developers:application", app.id)
    else:
        messages.error(request, _("Give the application a name."))
    return redirect("developers:index")


def _app(request, app_id: int):
    app = services.applications_of(request.user).filter(id=app_id).first()
    if app is None:
        raise Http404
    return app


def _usage_days(app, days: int = 30) -> list[dict]:
    since = timezone.localdate() - timedelta(days=days - 1)
    counts = dict(
        ApiUsage.objects.filter(key__application=app, day__gte=since)
        .values_list("day")
        .annotate(n=Sum("count"))
        .values_list("day", "n")
    )
    top = max(counts.values(), default=0) or 1
    out = []
    for i in range(days):
        d = since + timedelta(days=i)
        n = counts.get(d, 0)
        pct = round(n * 100 / top)
        out.append({"day": d, "calls": n, "pct": pct, "y": 100 - pct})
    return out


@login_required
def application(request, app_id: int):
    app = _app(request, app_id)
    keys.usage_flush()  # the chart shows calls up to now
    ctx = {
        "app": app,
        "keys": app.keys.order_by("-created_at"),
        "key_form": KeyForm(),
        "sub_form": SubscriptionForm(),
        "subs": app.event_subscriptions.order_by("id"),
        "usage": _usage_days(app),
        "by_endpoint": ApiUsage.objects.filter(key__application=app)
        .values("endpoint", "status")
        .annotate(calls=Sum("count"))
        .order_by("-calls")[:20],
        "new_key": request.session.pop("new_key", None),
        "new_secret": request.session.pop("new_secret", None),
        "approved": app.organisation.is_approved,
    }
    return render(request, "developers/application.html", ctx)


@login_required
@require_POST
def key_new(request, app_id: int):
    app = _app(request, app_id)
    form = KeyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a name and at least one scope."))
        return redirect("developers:application", app.id)
    days = form.cleaned_data["expires_in_days"]
    try:
        _key, text = services.key_issue(
            user=request.user,
            application=app,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
    except services.PortalError as e:
        messages.error(request, e.message)
    else:
        request.session["new_key"] = text  # shown once, on the next page only
    return redirect("developers:application", app.id)


@login_required
@require_POST
def key_revoke(request, app_id: int, key_id: int):
    app = _app(request, app_id)
    key = get_object_or_404(ApiKey, id=key_id, application=app)
    keys.api_key_revoke(key=key)
    messages.success(request, _("Key revoked."))
    return redirect("developers:application", app.id)


@login_required
def usage_csv(request, app_id: int):
    app = _app(request, app_id)
    keys.usage_flush()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="api-usage-{app.id}.csv"'
    w = csv.writer(response)
    w.writerow(["day", "key", "key_prefix", "endpoint", "status", "calls"])
    for u in ApiUsage.objects.filter(key__application=app).select_related("key").order_by("day", "endpoint", "status"):
        w.writerow([u.day.isoformat(), u.key.name, u.key.prefix, u.endpoint, u.status, u.count])
    return response


@login_required
@require_POST
def subscription_new(request, app_id: int):
    app = _app(request, app_id)
    form = SubscriptionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a name, an http(s) URL and at least one event."))
        return redirect("developers:application", app.id)
    try:
        _sub, secret = webhook_services.subscription_create(
            application=app, created_by=request.user, **form.cleaned_data
        )
    except webhook_services.SubscriptionError as e:
        messages.error(request, str(e))
    else:
        request.session["new_secret"] = secret
    return redirect("developers:application", app.id)


def _sub(request, app_id: int, sub_id: int):
    return get_object_or_404(EventSubscription, id=sub_id, application=_app(request, app_id))


@login_required
def subscription(request, app_id: int, sub_id: int):
    sub = _sub(request, app_id, sub_id)
    deliveries = sub.deliveries.order_by("-created_at", "-id")
    status = request.GET.get("status")
    if status in EventDelivery.Status.values:
        deliveries = deliveries.filter(status=status)
    return render(
        request,
        "developers/subscription.html",
        {"sub": sub, "app": sub.application, "deliveries": deliveries[:100], "statuses": EventDelivery.Status.choices},
    )


@login_required
@require_POST
def subscription_action(request, app_id: int, sub_id: int, action: str):
    sub = _sub(request, app_id, sub_id)
    if action == "enable":
        webhook_services.subscription_enable(subscription=sub)
    elif action == "disable":
        webhook_services.subscription_disable(subscription=sub, actor=request.user)
    elif action == "test":
        webhook_services.subscription_send_test(subscription=sub)
        messages.success(request, _("Test delivery queued."))
    elif action == "delete":
        webhook_services.subscription_delete(subscription=sub)
        return redirect("developers:application", app_id)
    elif action == "replay":
        d = get_object_or_404(EventDelivery, id=request.POST.get("delivery") or 0, subscription=sub)
        webhook_services.delivery_replay(delivery=d)
        messages.success(request, _("Delivery queued again."))
    else:
        raise Http404
    return redirect("developers:subscription", app_id, sub.id)
