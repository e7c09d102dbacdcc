from .navigation import items_for, menu_for


def navigation(request):
    user = getattr(request, "user", None)
    if user is None:
        return {}
    items = items_for(user)
    path = request.path
    for item in items:
        item["active"] = path == item["url"] or (item["url"] != "/" and path.startswith(item["url"]))
    menu, more = menu_for(items)
    return {"nav_items": items, "nav_menu": menu, "nav_more": more}
