"""Entity linking: enterprise and facility names (full, English and normalised short forms) → entities.

"滨江水务集团有限公司" is also found as "滨江水务"; "Binjiang Water Co., Ltd." as "Binjiang Water".
Cached per process like the place matcher and rebuilt when an Entity changes.
"""

import re
import unicodedata
import uuid
from dataclasses import dataclass

from django.core.cache import cache

from datahub.text.nlp.matcher import PhraseMatcher

VERSION_KEY = "datahub:text:entities:version"
TYPES = ("enterprise", "facility")
_ZH_LEGAL = re.compile(r"(股份有限公司|有限责任公司|有限公司|集团公司|集团|公司|分公司|总公司)$")
_EN_LEGAL = re.compile(
    r"[\s,.]*(co\.?,?\s*ltd\.?|company\s+limited|limited|ltd\.?|inc\.?|corp\.?|corporation|group|llc|plc)$",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")


def normalize_name(name: str) -> str:
    """NFKC, no legal form, single spaces, lower case: the key two spellings of one name share."""
    n = unicodedata.normalize("NFKC", name).strip()
    for _ in range(2):  # "…集团有限公司" has two legal suffixes
        n = _ZH_LEGAL.sub("", n).strip()
        n = _EN_LEGAL.sub("", n).strip()
    return _SPACES.sub(" ", n).lower()


@dataclass(frozen=True)
class EntityHit:
    entity_id: int
    mention: str


_local: dict[str, tuple[str, PhraseMatcher]] = {}


def invalidate() -> None:
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


def matcher() -> PhraseMatcher:
    from datahub.core.models import Entity

    version = cache.get(VERSION_KEY)
    if version is None:
        version = uuid.uuid4().hex
        cache.add(VERSION_KEY, version, timeout=None)
        version = cache.get(VERSION_KEY) or version
    cached = _local.get("m")
    if cached and cached[0] == version:
        return cached[1]
    phrases: dict[str, set] = {}
    rows = Entity.objects.filter(type__in=TYPES, merged_into__isnull=True).values_list("id", "name", "name_en")
    for eid, name, name_en in rows:
        for form in {name, name_en, normalize_name(name), normalize_name(name_en) if name_en else ""}:
            form = form.strip()
            # Short forms under 3 characters ("水务") would link every post about water.
            if len(form) >= 3 or (len(form) >= 2 and form == name):
                phrases.setdefault(form, set()).add(eid)
    m = PhraseMatcher(phrases)
    _local["m"] = (version, m)
    return m


def link_entities(text: str, m: PhraseMatcher | None = None) -> list[EntityHit]:
    m = matcher() if m is None else m
    out: dict[int, str] = {}
    for hit in m.find(text):
        if len(hit.values) == 1:  # an ambiguous short name links nothing rather than the wrong one
            out.setdefault(hit.values[0], hit.phrase)
    return [EntityHit(entity_id=e, mention=mention) for e, mention in out.items()]
