"""Creating a service request from an Open311 POST (already parsed into a dict of strings)."""

from governance.models import Case, Category, Channel
from governance.services.cases import case_create
from governance.services.errors import CaseError


def _attribute_values(category: Category, form: dict) -> dict:
    """attribute[CODE]=value fields, checked against the service definition."""
    given: dict[str, list[str]] = {}
    for key, values in form.items():
        if key.startswith("attribute[") and key.endswith("]"):
            given[key[10:-1]] = [v for v in values if v != ""]
    out: dict = {}
    for attr in category.attributes.all():
        vals = given.pop(attr.code, [])
        if attr.required and attr.variable and not vals:
            raise CaseError(f"attribute[{attr.code}]: required ({attr.description})", code="400")
        if not vals:
            continue
        if attr.datatype in ("singlevaluelist", "multivaluelist"):
            keys = {str(v["key"]) for v in attr.values}
            bad = [v for v in vals if v not in keys]
            if bad:
                raise CaseError(f"attribute[{attr.code}]: {bad[0]!r} is not one of {sorted(keys)}", code="400")
        if attr.datatype == "number":
            try:
                float(vals[0])
            except ValueError:
                raise CaseError(f"attribute[{attr.code}]: {vals[0]!r} is not a number", code="400") from None
        out[attr.code] = vals if attr.datatype == "multivaluelist" else vals[0]
    if given:
        raise CaseError(f"attribute[{sorted(given)[0]}]: unknown attribute for this service", code="400")
    return out


def open311_request_create(*, form: dict[str, list[str]], user) -> Case:
    def one(name: str) -> str:
        return (form.get(name) or [""])[0].strip()

    code = one("service_code")
    if not code:
        raise CaseError("service_code: required", code="400")
    category = Category.objects.filter(service_code=code, is_active=True).prefetch_related("attributes").first()
    if category is None:
        raise CaseError(f"service_code: {code!r} is not a known service", code="404", status=404)
    lat, lon = one("lat"), one("long")
    address = one("address_string")
    if (lat == "") != (lon == ""):
        raise CaseError("lat/long: give both or neither", code="400")
    lon_f = lat_f = None
    if lat:
        try:
            lat_f, lon_f = float(lat), float(lon)
        except ValueError:
            raise CaseError(f"lat/long: {lat!r}, {lon!r} are not numbers", code="400") from None
        if not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180):
            raise CaseError("lat/long: out of range", code="400")
    if lat_f is None and not address and not one("address_id"):
        raise CaseError("location: lat/long, address_string or address_id is required", code="400")
    attributes = _attribute_values(category, form)
    if one("address_id"):
        attributes["address_id"] = one("address_id")
    description = one("description")
    name = " ".join(p for p in (one("first_name"), one("last_name")) if p)
    return case_create(
        channel=Channel.OPEN311,
        title=(description[:60] or category.name),
        description=description[:4000],
        category_id=category.id,
        lon=lon_f,
        lat=lat_f,
        address=address,
        reporter_name=name,
        reporter_phone=one("phone"),
        reporter_email=one("email")[:254],
        reporter_user=user,
        attributes=attributes,
        media_url=one("media_url")[:200],
        actor=user,
    )
