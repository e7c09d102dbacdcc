"""The search results page: `/search/?q=…` with facets, chips, a map and keyboard navigation.

Open to everyone like the API: anonymous visitors (the citizen portal) find public items only.
"""

from urllib.parse import urlencode

from django.shortcuts import render
from rest_framework.exceptions import ValidationError

from cityos.access import public_page

from . import selectors
from .serializers import SearchParamsSerializer


def _url(params: dict, **changes) -> str:
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    merged.pop("page", None) if "page" not in changes else None
    return "?" + urlencode(merged)


@public_page  # permission-aware: anonymous visitors and outsiders find public items only
def search_page(request):
    params = {k: v for k, v in request.GET.items()}
    form = SearchParamsSerializer(data=params)
    errors, data = {}, None
    if form.is_valid():
        try:
            data = selectors.search(user=request.user, req=form.to_request())
        except ValidationError as exc:
            errors = exc.detail
    else:
        errors = form.errors
    chips = []
    if data:
        ignored = [x for x in params.get("ignore", "").split(",") if x]
        for chip in data["parsed"].get("chips", []):
            chips.append({**chip, "remove_url": _url(params, ignore=",".join([*ignored, chip["field"]]))})
        for facet in data["facets"].values():
            for row in facet:
                row["active"] = False
        for name, param in (("kind", "kind"), ("area", "area"), ("department", "department"), ("category", "category")):
            for row in data["facets"][name]:
                row["url"] = _url(params, **{param: row["value"]})
                row["active"] = str(params.get(param, "")) == str(row["value"])
        for name in ("kind", "area", "department", "category"):
            if params.get(name):
                chips.append(
                    {
                        "field": name,
                        "label": next((r["label"] for r in data["facets"][name] if r["active"]), params[name]),
                        "remove_url": _url(params, **{name: ""}),
                    }
                )
        pages = max(1, -(-data["count"] // data["page_size"]))
        data["prev_url"] = _url(params, page=data["page"] - 1) if data["page"] > 1 else None
        data["next_url"] = _url(params, page=data["page"] + 1) if data["page"] < min(pages, 500) else None
        data["pages"] = pages
    points = [
        {"lon": r["lon"], "lat": r["lat"], "title": r["title"], "url": r["url"], "kind": r["kind_label"]}
        for r in (data["results"] if data else [])
        if r["lon"] is not None
    ]
    return render(
        request,
        "search/results.html",
        {"q": params.get("q", ""), "data": data, "errors": errors, "chips": chips, "points": points},
        status=200 if not errors else 400,
    )
