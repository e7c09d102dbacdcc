"""Open311 GeoReport v2 documents as JSON or XML (element names and nesting as in the spec's examples)."""

from django.http import HttpResponse, JsonResponse
from lxml import etree  # noqa: S410 - we only build XML here, never parse untrusted input

# The plural (list) element and the element of each item, per top-level document.
XML_SHAPES = {
    "services": ("services", "service"),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}
# Nested lists inside an item: list element -> item element.
XML_NESTED = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}


def _text(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def _fill(parent, data: dict) -> None:
    for key, value in data.items():
        el = etree.SubElement(parent, key)
        if isinstance(value, dict):
            _fill(el, value)
        elif isinstance(value, list):
            child = XML_NESTED.get(key, "item")
            for item in value:
                sub = etree.SubElement(el, child)
                if isinstance(item, dict):
                    _fill(sub, item)
                else:
                    sub.text = _text(item)
        else:
            el.text = _text(value)


def to_xml(kind: str, data) -> bytes:
    if kind in XML_SHAPES:
        root_name, item_name = XML_SHAPES[kind]
        root = etree.Element(root_name)
        for item in data:
            _fill(etree.SubElement(root, item_name), item)
    else:  # a single document: service_definition, discovery
        root = etree.Element(kind)
        _fill(root, data)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def respond(fmt: str, kind: str, data, status: int = 200) -> HttpResponse:
    if fmt == "xml":
        return HttpResponse(to_xml(kind, data), status=status, content_type="text/xml; charset=utf-8")
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def error(fmt: str, status: int, description: str) -> HttpResponse:
    return respond(fmt, "errors", [{"code": status, "description": description}], status=status)
