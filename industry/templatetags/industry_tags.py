from django import template
from django.utils.translation import get_language

register = template.Library()


@register.filter
def loc(obj, field: str = "name"):
    """The English variant (`<field>_en`) in English mode when it exists, else the Chinese one."""
    get = obj.get if isinstance(obj, dict) else lambda k, d=None: getattr(obj, k, d)
    if (get_language() or "").startswith("en"):
        en = get(f"{field}_en", "")
        if en:
            return en
    return get(field, "")


@register.filter
def metlabel(met):
    return {True: "✔", False: "✘", None: "?"}.get(met, "?")


@register.simple_tag
def qs_with(params, **kwargs):
    """The current query string with some parameters replaced (pagination links keep the filters)."""
    q = params.copy()
    for k, v in kwargs.items():
        q[k] = v
    return q.urlencode()


@register.filter
def get_item_safe(mapping, key):
    return mapping.get(key, key) if isinstance(mapping, dict) else key
