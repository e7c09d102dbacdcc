"""Datahub pages: the entity registry and entity page, and the areas browser."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cityos.roles import Role
from datahub.core import entity_sections
from datahub.core.models import Entity
from datahub.core.selectors import areas as area_selectors
from datahub.core.selectors.entities import entities_visible_to, entity_can
from datahub.core.selectors.events import events_visible_to
from datahub.core.services import entities as entity_services


def _staff(request) -> None:
    if request.user.role == Role.EXTERNAL_DEVELOPER and not request.user.is_superuser:
        raise Http404  # external developers use the API only


def _may(user, action: str, pk: int) -> Entity:
    """The entity if `user` may `action` it (datahub.core.selectors.entities); 404 if not visible, else 403."""
    entity = get_object_or_404(entities_visible_to(user), pk=pk)
    if not entity_can(user, action, entity):
        raise PermissionDenied
    return entity


@login_required
def entity_list(request):
    _staff(request)
    qs = entities_visible_to(request.user).filter(merged_into=None).select_related("area").order_by("type", "name", "id")
    q = (request.GET.get("q") or "").strip()
    etype = request.GET.get("type") or ""
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(name_en__icontains=q) | Q(identifiers__value=q)).distinct()
    if etype:
        qs = qs.filter(type=etype)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "datahub/entity_list.html",
        {"page": page, "q": q, "type": etype, "types": Entity.Type.choices},
    )


@login_required
def entity_detail(request, pk: int):
    _staff(request)
    entity = get_object_or_404(
        entities_visible_to(request.user).select_related("area", "department", "merged_into"), pk=pk
    )
    identifiers = entity.identifiers.select_related("source").order_by("scheme", "value")
    events = events_visible_to(request.user).filter(subject=entity).select_related("area", "actor").order_by("-occurred_at", "-id")[:50]
    chain = area_selectors.area_ancestors(area_id=entity.area_id) if entity.area_id else []
    geometry = json.loads(entity.geometry.geojson) if entity.geometry is not None else None
    area_geometry = None
    if entity.area_id and entity.area.geometry is not None:
        area_geometry = json.loads(entity.area.geometry.simplify(0.0001, preserve_topology=True).geojson)
    return render(
        request,
        "datahub/entity_detail.html",
        {
            "entity": entity,
            "identifiers": identifiers,
            "events": events,
            "area_chain": list(reversed(chain)),
            "merged_from": entity.merged_from.order_by("id"),
            "extra_sections": entity_sections.render_list(entity_id=entity.id, user=request.user),
            "map_data": {"entity": geometry, "area": area_geometry, "name": entity.name},
            "can_curate": entity_can(request.user, "merge", entity),
        },
    )


@login_required
@require_POST
def entity_merge(request, pk: int):
    _staff(request)
    _may(request.user, "merge", pk)
    try:
        merged_id = int(request.POST.get("merged_id", ""))
        _may(request.user, "merge", merged_id)
        entity_services.entity_merge(
            target_id=pk, merged_id=merged_id, actor_id=request.user.id, reason=request.POST.get("reason", "")
        )
    except ValueError as exc:
        messages.error(request, _("Merge refused: %(reason)s") % {"reason": exc})
    else:
        messages.success(request, _("Entity %(id)s merged into this one.") % {"id": merged_id})
    return redirect("datahub:entity-detail", pk=pk)


@login_required
@require_POST
def entity_split(request, pk: int):
    _staff(request)
    _may(request.user, "split", pk)
    try:
        ids = [int(i) for i in request.POST.getlist("identifier_ids")] or None
        entity_services.entity_split(entity_id=pk, identifier_ids=ids, actor_id=request.user.id)
    except ValueError as exc:
        messages.error(request, _("Split refused: %(reason)s") % {"reason": exc})
    else:
        messages.success(request, _("Entity split."))
    return redirect("datahub:entity-detail", pk=pk)


@login_required
def area_browser(request):
    _staff(request)
    return render(request, "datahub/area_browser.html", {})
