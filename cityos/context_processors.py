from .navigation import items_for


def navigation(request):
    user = getattr(request, "user", None)
    if user is None:
        return {}
    items = items_for(user)
    path = request.path
    for item in items:
        item["active"] = path == item["url"] or (item["url"] != "/" and path.startswith(item["url"]))
    return {"nav_items": items}
