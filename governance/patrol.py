"""The grid worker's patrol page (`/governance/patrol/`), made for a phone: report what was found
with photos from the camera and the phone's position, see one's own reports and the grid's open
cases with a link that opens the phone's navigation app. Reports go through grid_patrol_report,
the service the API's patrol endpoint uses."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cityos.roles import Role
from governance.models import Category, Priority
from governance.selectors.home import grid_worker_home
from governance.services.errors import CaseError
from governance.services.grids import MAX_PATROL_PHOTOS, grid_patrol_report


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class PatrolForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("What did you find?"), max_length=300)
    description = forms.CharField(
        label=gettext_lazy("Details"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    category = forms.ModelChoiceField(
        label=gettext_lazy("Category"),
        queryset=Category.objects.filter(is_active=True).order_by("code"),
        required=False,
        empty_label=gettext_lazy("(automatic)"),
    )
    priority = forms.ChoiceField(label=gettext_lazy("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    photos = PhotosField(
        label=gettext_lazy("Photos"),
        required=False,
        widget=MultipleImageInput(attrs={"accept": "image/*", "capture": "environment", "multiple": True}),
    )
    lon = forms.FloatField(widget=forms.HiddenInput, required=False, min_value=-180, max_value=180)
    lat = forms.FloatField(widget=forms.HiddenInput, required=False, min_value=-90, max_value=90)

    def clean(self):
        data = super().clean()
        if data.get("lon") is None or data.get("lat") is None:
            raise forms.ValidationError(
                _("Your position is missing: allow this page to use your location and wait for it to be found.")
            )
        if len(data.get("photos") or []) > MAX_PATROL_PHOTOS:
            self.add_error("photos", _("At most %(n)d photos per report.") % {"n": MAX_PATROL_PHOTOS})
        return data


# The service's errors, as the grid worker should read them.
ERROR_MESSAGES = {
    "outside_grid": gettext_lazy("Your position is outside your grids: report it to the hotline or the grid it is in."),
    "permission_denied": gettext_lazy("You are not assigned to a grid yet: ask your supervisor to assign you one."),
    "not_an_image": gettext_lazy("Only photos can be attached (JPEG, PNG, WebP, HEIC)."),
    "too_many_photos": gettext_lazy("Too many photos for one report."),
    "file_too_large": gettext_lazy("A photo is larger than 20 MB."),
}


@login_required
def patrol(request):
    if not (request.user.role == Role.GRID_WORKER or request.user.is_superuser):
        raise PermissionDenied
    form = PatrolForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            case = grid_patrol_report(
                worker=request.user,
                title=d["title"],
                description=d["description"],
                category_id=d["category"].id if d["category"] else None,
                priority=d["priority"],
                lon=d["lon"],
                lat=d["lat"],
                photos=d["photos"],
            )
        except CaseError as exc:
            code = exc.get_codes() if isinstance(exc.get_codes(), str) else ""
            form.add_error(None, ERROR_MESSAGES.get(code, str(exc.detail)))
        else:
            messages.success(
                request,
                _("Report %(number)s filed with %(n)d photo(s).")
                % {"number": case.tracking_number, "n": len(d["photos"])},
            )
            return redirect("governance:patrol")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "governance/patrol.html", {"form": form, "grid": grid_worker_home(user=request.user)}, status=status
    )
