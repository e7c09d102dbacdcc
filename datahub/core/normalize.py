"""Name normalisation for entity resolution: the same enterprise written in different ways.

    "滨江 绿源环保科技有限公司" == "滨江绿源环保科技（有限公司）"  and  "Acme Co., Ltd." == "ACME LLC" == "acme"

NFKC (full-width → half-width), case-fold, punctuation and spaces removed, and legal-form suffixes
dropped (they differ between registers for the same firm). Latin suffixes are dropped as whole words
only, so "Costco" keeps its "co".
"""

import re
import unicodedata

_CJK_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "分公司",
    "集团公司",
    "集团",
    "公司",
)
_LATIN_SUFFIXES = (
    ("company", "limited"),
    ("co", "ltd"),
    ("co", "limited"),
    ("pty", "ltd"),
    ("limited",),
    ("ltd",),
    ("llc",),
    ("inc",),
    ("incorporated",),
    ("corp",),
    ("corporation",),
    ("gmbh",),
    ("plc",),
    ("company",),
    ("co",),
)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", name or "").casefold()
    tokens = [t for t in _NON_WORD.split(text) if t]
    changed = True
    while changed and len(tokens) > 1:
        changed = False
        for suffix in _LATIN_SUFFIXES:
            if len(tokens) > len(suffix) and tuple(tokens[-len(suffix) :]) == suffix:
                tokens = tokens[: -len(suffix)]
                changed = True
                break
    joined = "".join(tokens)
    changed = joined not in _CJK_SUFFIXES  # a name that is only a legal form stays as it is
    while changed:
        changed = False
        for suffix in _CJK_SUFFIXES:
            if joined.endswith(suffix) and len(joined) > len(suffix):
                joined = joined[: -len(suffix)]
                changed = True
                break
    return joined[:300]
