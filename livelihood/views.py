"""Staff pages of the livelihood wing under `/livelihood/`: parse, call a selector or service, render.

Department scoping comes from the same selectors as the API (services_visible_to, appointments_visible_to,
notices_visible_to, ratings_visible_to); citizens never get here (cityos.middleware + staff_required).
"""

import json
from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cityos.access import staff_required
from cityos.scoping import can_see_department, scope_by_department
from datahub import facade

from . import selectors
from .models import Audience, Facility, FacilityType, Office, Service, ServiceMode
from .services import appointments as appt_svc
from .services import guide, notices, ratings
from .services.errors import LivelihoodError
from .services.facilities import facility_import


def _departments(user):
    return [(d.id, d.name) for d in facade.department_list() if can_see_department(user, d.id)]


# --- services editor ------------------------------------------------------------------------------


def _lines(items) -> str:
    out = []
    for m in items or []:
        if isinstance(m, dict):
            out.append(" | ".join(str(m.get(k, "")) for k in ("name", "copies") if m.get(k, "") != ""))
        else:
            out.append(str(m))
    return "\n".join(out)


def _materials(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if not parts[0]:
            continue
        item = {"name": parts[0][:200]}
        if len(parts) > 1 and parts[1].isdigit():
            item["copies"] = min(int(parts[1]), 99)
        out.append(item)
    return out


class ServiceForm(forms.Form):
    code = forms.SlugField(label=gettext_lazy("Code"), max_length=64)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    name_en = forms.CharField(label=gettext_lazy("English name"), max_length=200, required=False)
    department = forms.TypedChoiceField(label=gettext_lazy("Department"), coerce=int)
    audience = forms.ChoiceField(label=gettext_lazy("Audience"), choices=Audience.choices)
    mode = forms.ChoiceField(label=gettext_lazy("How to apply"), choices=ServiceMode.choices)
    summary = forms.CharField(label=gettext_lazy("Summary"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    conditions = forms.CharField(
        label=gettext_lazy("Conditions"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    materials = forms.CharField(
        label=gettext_lazy("Required materials (one a line: name | copies)"),
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
    )
    steps = forms.CharField(
        label=gettext_lazy("Steps (one a line)"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    fees = forms.CharField(label=gettext_lazy("Fees"), max_length=300, required=False)
    legal_days = forms.IntegerField(
        label=gettext_lazy("Legal time limit (working days)"), min_value=0, max_value=3650, required=False
    )
    promised_days = forms.IntegerField(
        label=gettext_lazy("Promised time (working days)"), min_value=0, max_value=3650, required=False
    )
    locations = forms.CharField(label=gettext_lazy("Where"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    hours = forms.CharField(label=gettext_lazy("Office hours"), max_length=300, required=False)
    legal_basis = forms.CharField(
        label=gettext_lazy("Legal basis"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    bookable = forms.BooleanField(label=gettext_lazy("Bookable"), required=False)
    note = forms.CharField(label=gettext_lazy("What changed (for the version history)"), max_length=300, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = _departments(user)


@staff_required
def services(request):
    qs = scope_by_department(Service.objects.all(), request.user).order_by("code")
    q = (request.GET.get("q") or "").strip()[:50]
    if q:
        qs = qs.filter(name__icontains=q)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "livelihood/services.html", {"page": page, "q": q})


@staff_required
def service_edit(request, pk=None):
    svc = get_object_or_404(Service, pk=pk) if pk else None
    if svc is not None and not selectors.service_can_edit(request.user, svc):
        raise PermissionDenied
    initial = {}
    if svc is not None:
        initial = {f: getattr(svc, f) for f in ("code", "name", "name_en", "audience", "mode", "summary", "conditions",
                                                "fees", "legal_days", "promised_days", "locations", "hours",
                                                "legal_basis", "bookable")}  # fmt: skip
        initial.update(department=svc.department_id, materials=_lines(svc.materials), steps=_lines(svc.steps))
    form = ServiceForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if not selectors.service_can_edit(request.user, svc, d["department"]):
            raise PermissionDenied
        if svc is None and Service.objects.filter(code=d["code"]).exists():
            form.add_error("code", _("A service with this code exists."))
        else:
            code = svc.code if svc else d["code"]
            try:
                saved = guide.service_save(
                    code=code, actor=request.user, note=d["note"], name=d["name"], name_en=d["name_en"],
                    department_id=d["department"], audience=d["audience"], mode=d["mode"], summary=d["summary"],
                    conditions=d["conditions"], materials=_materials(d["materials"]),
                    steps=[s.strip() for s in d["steps"].splitlines() if s.strip()], fees=d["fees"],
                    legal_days=d["legal_days"], promised_days=d["promised_days"], locations=d["locations"],
                    hours=d["hours"], legal_basis=d["legal_basis"], bookable=d["bookable"],
                )  # fmt: skip
            except LivelihoodError as exc:
                form.add_error(None, str(exc.detail))
            else:
                messages.success(request, _("Saved as version %(v)s.") % {"v": saved.version})
                return redirect("livelihood:service_edit", pk=saved.pk)
    versions = svc.versions.select_related("created_by")[:20] if svc else []
    return render(request, "livelihood/service_edit.html", {"form": form, "service": svc, "versions": versions})


@staff_required
@require_POST
def service_status(request, pk):
    svc = get_object_or_404(Service, pk=pk)
    if not selectors.service_can_edit(request.user, svc):
        raise PermissionDenied
    status = request.POST.get("status")
    try:
        guide.service_set_status(service_id=svc.id, status=status, actor=request.user)
    except LivelihoodError as exc:
        messages.error(request, str(exc.detail))
    return redirect("livelihood:service_edit", pk=svc.pk)


# --- facilities -----------------------------------------------------------------------------------


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV or GeoJSON file"))
    type = forms.ChoiceField(label=gettext_lazy("Facility type"), choices=FacilityType.choices)
    source = forms.SlugField(label=gettext_lazy("Source code"), max_length=64)


@staff_required
def facilities(request):
    qs = Facility.objects.order_by("type", "name", "id")
    ftype = request.GET.get("type")
    if ftype in FacilityType.values:
        qs = qs.filter(type=ftype)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    form = ImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = facility_import(
                data=upload.read(), filename=upload.name, type=form.cleaned_data["type"],
                source_code=form.cleaned_data["source"], department_id=request.user.department_id,
                actor_id=request.user.id,
            ).as_dict()  # fmt: skip
        except LivelihoodError as exc:
            form.add_error(None, str(exc.detail))
    open_ids = selectors.facilities_open_ids([f.id for f in page.object_list])
    return render(
        request,
        "livelihood/facilities.html",
        {
            "page": page,
            "types": FacilityType.choices,
            "type": ftype,
            "form": form,
            "result": result,
            "open_ids": open_ids,
        },
    )


# --- appointments and the counter -----------------------------------------------------------------


def _offices(user):
    return scope_by_department(Office.objects.filter(is_active=True), user).order_by("code")


@staff_required
def appointments(request):
    qs = selectors.appointments_visible_to(request.user).order_by("-slot__starts_at", "id")
    status = request.GET.get("status")
    if status:
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request, "livelihood/appointments.html", {"page": page, "offices": _offices(request.user), "status": status}
    )


@staff_required
def counter(request, office_id):
    office = get_object_or_404(_offices(request.user), pk=office_id)
    try:
        day = date.fromisoformat(request.GET.get("day", "")) if request.GET.get("day") else timezone.localdate()
    except ValueError:
        day = timezone.localdate()
    queue = list(selectors.counter_queue(office_id=office.id, day=day))
    return render(request, "livelihood/counter.html", {"office": office, "queue": queue, "day": day})


@staff_required
@require_POST
def counter_action(request, office_id, appointment_id):
    office = get_object_or_404(_offices(request.user), pk=office_id)
    appt = get_object_or_404(office.appointments, pk=appointment_id)
    try:
        appt_svc.appointment_counter(appointment_id=appt.id, action=request.POST.get("action", ""), actor=request.user)
    except LivelihoodError as exc:
        messages.error(request, str(exc.detail))
    day = timezone.localtime(appt.slot.starts_at).date().isoformat()
    return redirect(f"{reverse('livelihood:counter', args=[office.id])}?day={day}")


# --- notices --------------------------------------------------------------------------------------


class NoticeForm(forms.Form):
    department = forms.TypedChoiceField(label=gettext_lazy("Department"), coerce=int)
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    title_en = forms.CharField(label=gettext_lazy("English title"), max_length=200, required=False)
    body = forms.CharField(label=gettext_lazy("Body (Markdown)"), widget=forms.Textarea(attrs={"rows": 8}))
    body_en = forms.CharField(
        label=gettext_lazy("English body (Markdown)"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    areas = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Audience areas (none: the whole city)"), coerce=int, required=False
    )
    publish_at = forms.DateTimeField(label=gettext_lazy("Publish at"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))  # fmt: skip
    expires_at = forms.DateTimeField(label=gettext_lazy("Expires at"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))  # fmt: skip
    pinned = forms.BooleanField(label=gettext_lazy("Pinned"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = _departments(user)
        self.fields["areas"].choices = [(a.id, a.name) for a in facade.area_list() if a.level in ("district", "street")]


@staff_required
def notices_page(request):
    qs = selectors.notices_visible_to(request.user).order_by("-publish_at")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "livelihood/notices.html", {"page": page, "now": timezone.now()})


@staff_required
def notice_edit(request, pk=None):
    notice = get_object_or_404(selectors.notices_visible_to(request.user), pk=pk) if pk else None
    initial = {}
    if notice:
        initial = {
            f: getattr(notice, f)
            for f in ("title", "title_en", "body", "body_en", "publish_at", "expires_at", "pinned")
        }
        initial.update(department=notice.department_id, areas=list(notice.areas.values_list("id", flat=True)))
    form = NoticeForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            n = notices.notice_save(
                notice_id=notice.id if notice else None, department_id=d["department"], title=d["title"],
                title_en=d["title_en"], body=d["body"], body_en=d["body_en"], area_ids=d["areas"],
                publish_at=d["publish_at"], expires_at=d["expires_at"], pinned=d["pinned"], actor=request.user,
            )  # fmt: skip
            if request.POST.get("publish"):
                notices.notice_set_status(notice_id=n.id, status="published", actor=request.user)
        except LivelihoodError as exc:
            form.add_error(None, str(exc.detail))
        else:
            messages.success(request, _("Notice saved."))
            return redirect("livelihood:notices")
    preview = notices.render_markdown(notice.body) if notice else ""
    return render(request, "livelihood/notice_edit.html", {"form": form, "notice": notice, "preview": preview})


@staff_required
@require_POST
def notice_status(request, pk):
    notice = get_object_or_404(selectors.notices_visible_to(request.user), pk=pk)
    notices.notice_set_status(notice_id=notice.id, status=request.POST.get("status", ""), actor=request.user)
    return redirect("livelihood:notices")


# --- ratings --------------------------------------------------------------------------------------


@staff_required
def ratings_page(request):
    qs = selectors.ratings_visible_to(request.user)
    dash = selectors.rating_dashboard(qs=qs)
    bad = qs.filter(score__lte=2).order_by("replied_at", "-created_at")[:30]
    return render(
        request,
        "livelihood/ratings.html",
        {"dash": dash, "bad": bad, "dist_json": json.dumps(dash["distribution"]), "reasons": ratings.REASONS},
    )


@staff_required
@require_POST
def rating_reply(request, pk):
    rating = get_object_or_404(selectors.ratings_visible_to(request.user), pk=pk)
    try:
        ratings.rating_reply(rating_id=rating.id, reply=request.POST.get("reply", ""), actor=request.user)
        messages.success(request, _("Reply saved."))
    except LivelihoodError as exc:
        messages.error(request, str(exc.detail))
    return redirect("livelihood:ratings")
