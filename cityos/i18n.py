"""Names in the reader's language: a department, area, category or device with an English form
shows it in English mode (the Chinese name otherwise, and always in Chinese mode)."""

from django.utils.translation import get_language


def english() -> bool:
    return (get_language() or "").startswith("en")


def local_name(obj, field: str = "name") -> str:
    """`obj.name_en` in English mode when set, else `obj.name`; works on models, dataclasses and dicts."""
    if obj is None or obj == "":
        return ""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        get = obj.get
    elif hasattr(obj, field):
        get = lambda k, d="": getattr(obj, k, d)  # noqa: E731
    else:
        return str(obj)  # not a named thing: as it is
    if english():
        en = get(f"{field}_en", "")
        if en:
            return str(en)
    value = get(field, "")
    return str(value) if value is not None else ""
