"""Place tagging: district, street and community names (Chinese and English, full and short forms)
found in a text → areas, from the Area table.

"江南区" is also found as "江南", "Chang'an Subdistrict" as "Chang'an". The matcher is built once per
process and rebuilt when any Area changes (a version number in the shared cache, bumped by the
Area save/delete signal handlers in datahub.apps), so every worker sees an edit within one batch.
"""

import re
import uuid
from dataclasses import dataclass

from django.core.cache import cache

from datahub.text.nlp.matcher import PhraseMatcher

VERSION_KEY = "datahub:text:places:version"
LEVELS = ("district", "street", "community")
_DEPTH = {"city": 0, "district": 1, "street": 2, "community": 3}
_ZH_SUFFIXES = ("街道办事处", "街道", "社区", "新区", "区", "县", "镇", "乡")
_EN_SUFFIX = re.compile(r"\s+(sub-?district|district|street|community|town|county|new area)$", re.IGNORECASE)


@dataclass(frozen=True)
class PlaceHit:
    area_id: int
    mention: str


@dataclass
class _Gazetteer:
    version: str
    matcher: PhraseMatcher
    level: dict[int, str]
    parent: dict[int, int | None]

    def district_of(self, area_id: int) -> int | None:
        seen = 0
        while area_id is not None and seen < 8:
            if self.level.get(area_id) == "district":
                return area_id
            area_id, seen = self.parent.get(area_id), seen + 1
        return None

    def ancestors(self, area_id: int) -> set[int]:
        out, cur = set(), self.parent.get(area_id)
        while cur is not None and cur not in out:
            out.add(cur)
            cur = self.parent.get(cur)
        return out


_local: dict[str, _Gazetteer] = {}


def short_forms(name: str, name_en: str) -> set[str]:
    forms = {n for n in (name.strip(), name_en.strip()) if n}
    for suffix in _ZH_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            forms.add(name[: -len(suffix)])
            break
    if name_en:
        short = _EN_SUFFIX.sub("", name_en.strip())
        if short and short != name_en and len(short) >= 3:
            forms.add(short)
    # "Chang'an" is also written "Changan".
    forms |= {f.replace("'", "") for f in forms if "'" in f}
    return forms


def invalidate() -> None:
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


def _current_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        version = uuid.uuid4().hex
        cache.add(VERSION_KEY, version, timeout=None)
        version = cache.get(VERSION_KEY) or version
    return version


def gazetteer() -> _Gazetteer:
    from datahub.core.models import Area

    version = _current_version()
    g = _local.get("g")
    if g is not None and g.version == version:
        return g
    phrases: dict[str, set] = {}
    level, parent = {}, {}
    for a in Area.objects.filter(level__in=(*LEVELS, "city")).values("id", "name", "name_en", "level", "parent_id"):
        level[a["id"]], parent[a["id"]] = a["level"], a["parent_id"]
        if a["level"] not in LEVELS:
            continue  # the city's own name ("滨江") is in every post's context: it locates nothing
        for form in short_forms(a["name"], a["name_en"]):
            phrases.setdefault(form, set()).add(a["id"])
    g = _Gazetteer(version=version, matcher=PhraseMatcher(phrases), level=level, parent=parent)
    _local["g"] = g
    return g


def tag_places(text: str, g: _Gazetteer | None = None) -> list[PlaceHit]:
    """Areas named in the text. A name shared by several areas counts only when another mention
    (its district) disambiguates it."""
    g = gazetteer() if g is None else g
    matches = g.matcher.find(text)
    found: dict[int, str] = {}
    ambiguous = []
    for m in matches:
        if len(m.values) == 1:
            found.setdefault(m.values[0], m.phrase)
        else:
            ambiguous.append(m)
    for m in ambiguous:
        for area_id in m.values:
            if g.ancestors(area_id) & set(found):
                found.setdefault(area_id, m.phrase)
    return [PlaceHit(area_id=a, mention=mention) for a, mention in found.items()]


def most_specific(hits: list[PlaceHit], g: _Gazetteer) -> int | None:
    if not hits:
        return None
    return max(hits, key=lambda h: (_DEPTH.get(g.level.get(h.area_id, ""), 0), -h.area_id)).area_id
