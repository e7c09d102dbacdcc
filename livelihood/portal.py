"""The citizen portal at `/portal/`: public, mobile-first, its own base template (no staff shell).

Parse, call a selector or service, render. Anonymous form posts are rate-limited per client address
(`_limited`); the API has DRF throttles of its own. Citizen accounts are optional: a report and a
booking work without one.
"""

import secrets
from functools import wraps

from django import forms
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.core.cache import cache
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cityos.roles import Role
from datahub import facade

from . import selectors
from .models import (
    Appointment,
    FacilityType,
    LifeEvent,
    Notice,
    PublishStatus,
    Rating,
    Report,
    ReportCategory,
    Service,
    Slot,
)
from .services import appointments as appt_svc
from .services import ratings as rating_svc
from .services import reports as report_svc
from .services.errors import LivelihoodError
from .services.notices import render_markdown, subscription_create


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _limited(request, scope: str, limit: int, per_s: int = 60) -> bool:
    """True when this client made more than `limit` posts of `scope` in the current window."""
    if request.user.is_authenticated and request.user.role != Role.CITIZEN:
        return False
    # A window opens at the client's first post and lasts per_s seconds (fixed minute buckets would
    # let a burst straddling the boundary through twice).
    key = f"portal-rl:{scope}:{_client_ip(request)}"
    if cache.add(key, 1, per_s):
        return False
    try:
        return cache.incr(key) > limit
    except ValueError:
        return False


def rate_limited(scope: str, limit: int):
    def deco(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method == "POST" and _limited(request, scope, limit):
                return render(request, "portal/limited.html", status=429)
            return view(request, *args, **kwargs)

        return wrapped

    return deco


def _citizen(request):
    u = request.user
    return u if u.is_authenticated and getattr(u, "role", None) == Role.CITIZEN else None


def _area_id(request) -> int | None:
    raw = request.GET.get("area") or request.session.get("portal_area")
    try:
        area_id = int(raw) if raw else None
    except (TypeError, ValueError):
        return None
    if area_id and "area" in request.GET:
        request.session["portal_area"] = area_id
    return area_id


def _areas():
    # Filtered in the database: the grids (most of the city's ~250 areas) never leave it.
    return sorted(facade.area_list(level="district") + facade.area_list(level="street"), key=lambda a: a.code)


# --- home, guide, notices -------------------------------------------------------------------------


def home(request):
    area_id = _area_id(request)
    return render(
        request,
        "portal/home.html",
        {
            "popular": list(selectors.services_public().order_by("-popularity", "code")[:8]),
            "life_events": list(LifeEvent.objects.filter(status=PublishStatus.PUBLISHED)[:6]),
            "notices": list(selectors.notices_current(area_id=area_id)[:5]),
            "areas": _areas(),
            "area_id": area_id,
            "facility_types": FacilityType.choices,
        },
    )


def services(request):
    q = (request.GET.get("q") or "").strip()[:50]
    qs = selectors.services_public().order_by("-popularity", "code")
    if q:
        from django.db.models import Q

        qs = qs.filter(Q(name__icontains=q) | Q(name_en__icontains=q) | Q(summary__icontains=q) | Q(code__iexact=q))
    audience = request.GET.get("audience")
    if audience in ("person", "enterprise"):
        qs = qs.filter(audience=audience)
    return render(request, "portal/services.html", {"services": qs[:100], "q": q, "audience": audience})


def service_detail(request, code):
    svc = get_object_or_404(selectors.services_public(), code=code)
    Service.objects.filter(pk=svc.pk).update(popularity=F("popularity") + 1)
    offices = list(svc.offices.filter(is_active=True)) if svc.bookable else []
    return render(
        request,
        "portal/service.html",
        {"service": svc, "offices": offices, "reasons": rating_svc.REASONS, "rated": "rated" in request.GET},
    )


def life_event(request, code):
    le = get_object_or_404(
        LifeEvent.objects.prefetch_related("steps__service"), code=code, status=PublishStatus.PUBLISHED
    )
    steps = [st.service for st in le.steps.all()]
    return render(
        request,
        "portal/life_event.html",
        {"life_event": le, "steps": steps, "materials": selectors.life_event_materials(le)},
    )


def notices(request):
    area_id = _area_id(request)
    return render(
        request,
        "portal/notices.html",
        {"notices": selectors.notices_current(area_id=area_id)[:50], "areas": _areas(), "area_id": area_id},
    )


def notice_detail(request, pk):
    notice = get_object_or_404(Notice, pk=pk, status=PublishStatus.PUBLISHED)
    if notice.publish_at > timezone.now() or (notice.expires_at and notice.expires_at <= timezone.now()):
        raise Http404
    lang_en = (request.LANGUAGE_CODE or "").startswith("en") and notice.body_en
    body = render_markdown(notice.body_en if lang_en else notice.body)
    return render(request, "portal/notice.html", {"notice": notice, "body_html": body})


class SubscribeForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Email"))
    area = forms.TypedChoiceField(label=gettext_lazy("Area"), coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = [(a.id, a.name) for a in _areas()]


@rate_limited("subscribe", 10)
def subscribe(request):
    form = SubscribeForm(request.POST or None)
    done = False
    if request.method == "POST" and form.is_valid():
        subscription_create(
            email=form.cleaned_data["email"], area_id=form.cleaned_data["area"], citizen=_citizen(request)
        )
        done = True
    return render(request, "portal/subscribe.html", {"form": form, "done": done})


def _district_shapes() -> list[dict]:
    return facade.area_geometries(level="district", simplify=0.002)


def facility_map(request):
    return render(request, "portal/map.html", {"facility_types": FacilityType.choices, "areas": _district_shapes()})


# --- report a problem and tracking ----------------------------------------------------------------


class ReportForm(forms.Form):
    category = forms.ChoiceField(label=gettext_lazy("What kind of problem?"), choices=ReportCategory.choices)
    description = forms.CharField(label=gettext_lazy("Describe it"), widget=forms.Textarea(attrs={"rows": 4}),
                                  max_length=4000)  # fmt: skip
    photo = forms.FileField(label=gettext_lazy("Photo (optional, at most 10 MB)"), required=False)
    lon = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-180, max_value=180)
    lat = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-90, max_value=90)
    address = forms.CharField(label=gettext_lazy("Address or landmark (optional)"), required=False, max_length=300)
    name = forms.CharField(label=gettext_lazy("Your name (optional)"), required=False, max_length=100)
    phone = forms.CharField(label=gettext_lazy("Phone (optional)"), required=False, max_length=32)
    email = forms.EmailField(label=gettext_lazy("Email (optional)"), required=False)


@rate_limited("report", 10)
def report(request):
    form = ReportForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                r = report_svc.report_submit(
                    category=d["category"], description=d["description"], lon=d["lon"], lat=d["lat"],
                    photo=d["photo"], address=d["address"], citizen=_citizen(request), reporter_name=d["name"],
                    reporter_phone=d["phone"], reporter_email=d["email"],
                )  # fmt: skip
            except LivelihoodError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, _report_message(exc))
            else:
                return render(request, "portal/report_done.html", {"report": r}, status=201)
        status = 400
    return render(request, "portal/report.html", {"form": form, "areas": _district_shapes()}, status=status)


def _report_message(exc: LivelihoodError) -> str:
    code = exc.get_codes() if hasattr(exc, "get_codes") else ""
    return {
        "outside_city": _("The place you picked is outside the city."),
        "photo_too_large": _("The photo is larger than 10 MB."),
        "photo_not_image": _("The photo is not an image."),
    }.get(code, _("Pick the place on the map or use your position.") if exc.field == "location" else str(exc.detail))


def track(request, number=None):
    number = number or (request.GET.get("number") or "").strip()[:20]
    token = (request.GET.get("token") or "").strip()[:64]
    found = report_svc.report_by_token(number=number, token=token) if number and token else None
    if found is None and number and request.user.is_authenticated:
        found = Report.objects.filter(number=number, citizen=request.user).first()
    return render(
        request,
        "portal/track.html",
        {
            "report": found,
            "number": number,
            "token": token,
            "asked": bool(number),
            "reasons": rating_svc.REASONS,
            "rated": bool(found and Rating.objects.filter(report=found).exists()),
        },
        status=200 if found or not number else 404,
    )


@require_POST
@rate_limited("rate", 20)
def rate(request):
    """Rate a closed case (number + token), a served appointment (code + token) or a service handling."""
    try:
        score = int(request.POST.get("score", ""))
    except ValueError:
        score = 0
    reasons = request.POST.getlist("reasons")
    comment = request.POST.get("comment", "")[:2000]
    kind = request.POST.get("target")
    token = request.POST.get("token", "")
    try:
        if kind == "case":
            report = report_svc.report_by_token(number=request.POST.get("number", ""), token=token)
            if report is None and request.user.is_authenticated:
                report = Report.objects.filter(number=request.POST.get("number", ""), citizen=request.user).first()
            if report is None:
                raise Http404
            rating_svc.rating_submit(target="case", score=score, reasons=reasons, comment=comment,
                                     report_id=report.id, citizen=_citizen(request))  # fmt: skip
            return redirect(f"/portal/track/{report.number}/?token={report.token}&rated=1")
        if kind == "service":
            svc = selectors.services_public().filter(code=request.POST.get("code", "")).first()
            if svc is None:
                raise Http404
            rating_svc.rating_submit(target="service", score=score, reasons=reasons, comment=comment,
                                     service_id=svc.id, citizen=_citizen(request))  # fmt: skip
            return redirect(f"/portal/services/{svc.code}/?rated=1")
        appt = Appointment.objects.filter(code=request.POST.get("code", "")).first()
        if appt is None or not (
            secrets.compare_digest(appt.token, token) or (_citizen(request) and appt.citizen_id == request.user.id)
        ):
            raise Http404
        rating_svc.rating_submit(target="appointment", score=score, reasons=reasons, comment=comment,
                                 appointment_id=appt.id, citizen=_citizen(request))  # fmt: skip
        return redirect(f"/portal/appointments/{appt.code}/?token={appt.token}&rated=1")
    except LivelihoodError as exc:
        return render(request, "portal/error.html", {"message": str(exc.detail)}, status=exc.status_code)


# --- appointments ---------------------------------------------------------------------------------


class BookForm(forms.Form):
    slot = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=32, required=False)
    email = forms.EmailField(label=gettext_lazy("Email (for the reminder)"), required=False)


@rate_limited("book", 10)
def book(request, code):
    svc = get_object_or_404(selectors.services_public(), code=code, bookable=True)
    offices = list(svc.offices.filter(is_active=True).order_by("code"))
    office = next((o for o in offices if str(o.id) == request.GET.get("office")), offices[0] if offices else None)
    slots = []
    if office is not None:
        slots = list(
            Slot.objects.filter(office=office, starts_at__gt=timezone.now(), booked__lt=F("capacity"))
            .filter(service__isnull=True)
            .order_by("starts_at")[:60]
        ) + list(
            Slot.objects.filter(
                office=office, service=svc, starts_at__gt=timezone.now(), booked__lt=F("capacity")
            ).order_by("starts_at")[:60]
        )
        slots.sort(key=lambda s: s.starts_at)
    citizen = _citizen(request)
    initial = {"name": str(citizen), "email": citizen.email} if citizen else {}
    form = BookForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                appt = appt_svc.appointment_book(slot_id=d["slot"], service_id=svc.id, name=d["name"], phone=d["phone"],
                                                 email=d["email"], citizen=citizen)  # fmt: skip
            except LivelihoodError as exc:
                form.add_error(None, _booking_message(exc))
                status = exc.status_code
            else:
                return redirect(f"/portal/appointments/{appt.code}/?token={appt.token}")
        else:
            status = 400
    return render(
        request,
        "portal/book.html",
        {"service": svc, "offices": offices, "office": office, "slots": slots[:60], "form": form},
        status=status,
    )


def _booking_message(exc: LivelihoodError) -> str:
    return {
        "slot_full": _("This time is fully booked; please choose another."),
        "slot_past": _("This time has already passed."),
        "slot_too_far": _("Bookings open at most 60 days ahead."),
        "outside_hours": _("The office is closed at that time."),
        "office_closed": _("The office is closed at that time."),
    }.get(exc.get_codes(), str(exc.detail))


def appointment(request, code):
    appt = get_object_or_404(Appointment.objects.select_related("slot", "office", "service"), code=code)
    token = request.GET.get("token") or request.POST.get("token") or ""
    mine = _citizen(request) is not None and appt.citizen_id == request.user.id
    if not (mine or (token and secrets.compare_digest(appt.token, token))):
        raise Http404
    error = None
    if request.method == "POST" and request.POST.get("action") == "cancel":
        try:
            appt = appt_svc.appointment_cancel(appointment_id=appt.id)
        except LivelihoodError as exc:
            error = str(exc.detail)
    return render(
        request,
        "portal/appointment.html",
        {
            "appt": appt,
            "token": appt.token,
            "error": error,
            "reasons": rating_svc.REASONS,
            "rated": Rating.objects.filter(appointment=appt).exists(),
        },
    )


# --- citizen accounts -----------------------------------------------------------------------------


class RegisterForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Email"))
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    password = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput, min_length=8)

    def clean_email(self):
        email = self.cleaned_data["email"].lower()
        if get_user_model().objects.filter(username=email).exists():
            raise forms.ValidationError(_("An account with this email exists; log in instead."))
        return email


class LoginForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Email"))
    password = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput)


@rate_limited("register", 5)
def register(request):
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        user = get_user_model().objects.create_user(
            username=d["email"], email=d["email"], password=d["password"], role=Role.CITIZEN, display_name=d["name"]
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("portal:account")
    return render(request, "portal/register.html", {"form": form}, status=400 if request.method == "POST" else 200)


@rate_limited("login", 10)
def portal_login(request):
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(
            request, username=form.cleaned_data["email"].lower(), password=form.cleaned_data["password"]
        )
        if user is not None and user.role == Role.CITIZEN:
            login(request, user)
            return redirect("portal:account")
        form.add_error(None, _("Email or password is wrong."))
    return render(request, "portal/login.html", {"form": form}, status=400 if request.method == "POST" else 200)


@require_POST
def portal_logout(request):
    logout(request)
    return redirect("portal:home")


def account(request):
    citizen = _citizen(request)
    if citizen is None:
        return redirect("portal:login")
    return render(
        request,
        "portal/account.html",
        {
            "reports": Report.objects.filter(citizen=citizen)[:50],
            "appointments": Appointment.objects.filter(citizen=citizen).select_related("slot", "office", "service")[
                :50
            ],
            "ratings": Rating.objects.filter(citizen=citizen).select_related("service")[:50],
        },
    )
