"""Small shared helpers of the industry services: USCC, names, dates, feedback events."""

import re
import unicodedata
from datetime import date, datetime

from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from datahub import facade

from .errors import IndustryError


def uscc_clean(value: str, *, field: str = "uscc") -> str:
    """The compact, validated 18-character code (GB 32100-2015 check digit via python-stdnum).
    Raises IndustryError naming the field, with why it is wrong."""
    raw = str(value or "").strip()
    if not raw:
        raise IndustryError(f"{field}: required", code="invalid_uscc", extra={"field": field})
    try:
        return stdnum_uscc.validate(raw)
    except InvalidLength as exc:
        msg = f"must be 18 characters (got {len(stdnum_uscc.compact(raw))})"
        raise IndustryError(f"{field}: {msg}", code="invalid_uscc", extra={"field": field}) from exc
    except InvalidChecksum as exc:
        raise IndustryError(f"{field}: the check digit is wrong", code="invalid_uscc", extra={"field": field}) from exc
    except (InvalidFormat, InvalidComponent) as exc:
        raise IndustryError(
            f"{field}: contains a character a USCC may not have (I, O, S, V, Z are never used)",
            code="invalid_uscc",
            extra={"field": field},
        ) from exc
    except ValidationError as exc:
        raise IndustryError(f"{field}: not a valid USCC", code="invalid_uscc", extra={"field": field}) from exc


_PUNCT = re.compile(r"[\s\.,;:'\"()（）【】\[\]&/\\\-_#·、，。]+")
_SUFFIXES = (
    "有限责任公司",
    "股份有限公司",
    "有限公司",
    "公司",
    " incorporated",
    " inc",
    " llc",
    " ltd",
    " co",
    " corp",
)


def name_norm(name: str) -> str:
    """For deduplication: NFKC, lower case, legal-form suffixes and punctuation dropped."""
    s = unicodedata.normalize("NFKC", name or "").lower().strip()
    s = _PUNCT.sub(" ", s).strip()
    changed = True
    while changed:
        changed = False
        for suf in _SUFFIXES:
            if s.endswith(suf) and len(s) > len(suf):
                s, changed = s[: -len(suf)].strip(), True
    return s.replace(" ", "")[:300]


_ADDR_WORDS = {
    "street": "st",
    "road": "rd",
    "avenue": "ave",
    "drive": "dr",
    "boulevard": "blvd",
    "suite": "ste",
    "court": "ct",
    "lane": "ln",
    "highway": "hwy",
}


def address_norm(address: str) -> str:
    s = unicodedata.normalize("NFKC", address or "").lower()
    words = [_ADDR_WORDS.get(w, w) for w in _PUNCT.sub(" ", s).split()]
    return " ".join(words)[:300]


def parse_date(value, *, field: str) -> date | None:
    """ISO dates, and US m/d/yy or m/d/yyyy (the Little Rock file: "2/22/21"). None when empty."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    s = str(value).strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d", "%Y%m%d"):
        try:
            d = datetime.strptime(s, fmt).date()  # noqa: DTZ007 - a calendar date, no time zone
        except ValueError:
            continue
        if not (1800 <= d.year <= 2200):
            break
        return d
    raise ValueError(f"{field}: {s!r} is not a date (YYYY-MM-DD or M/D/YY)")


def record_event(*, type: str, enterprise, actor=None, payload: dict | None = None, object_ref: str = "") -> int:  # noqa: A002
    """The feedback loop: every industry state change lands in the datahub event log with the
    enterprise's entity as subject and its area and point."""
    loc = enterprise.location
    return facade.event_record(
        type=type,
        subject_id=enterprise.entity_id,
        area_id=enterprise.area_id,
        lon=loc.x if loc else None,
        lat=loc.y if loc else None,
        actor_id=actor.id if actor is not None and getattr(actor, "is_authenticated", False) else None,
        object_ref=object_ref or f"industry:enterprise:{enterprise.id}",
        payload=payload or {},
    )


def event_dict(*, type: str, enterprise, actor_id=None, payload=None, object_ref: str = "") -> dict:  # noqa: A002
    """The same event as `record_event`, as a row for `facade.event_record_many` (bulk paths)."""
    loc = enterprise.location
    return {
        "type": type,
        "subject_id": enterprise.entity_id,
        "area_id": enterprise.area_id,
        "lon": loc.x if loc else None,
        "lat": loc.y if loc else None,
        "actor_id": actor_id,
        "object_ref": object_ref or f"industry:enterprise:{enterprise.id}",
        "payload": payload or {},
    }
