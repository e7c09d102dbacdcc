"""A dictionary phrase matcher: leftmost-longest, non-overlapping, case-insensitive.

Phrases are indexed by their first two characters; a regex lookahead finds the positions where
some phrase may start, then a `startswith` per candidate phrase there decides (longest first).
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
        # Candidate positions are found in C by a lookahead over every 2-character prefix, so the
        # Python loop only runs where a phrase may start (~10x faster on posts that name nothing).
        keys = sorted(self._index, key=lambda k: (-len(k), k))
        self._starts = re.compile("(?=(" + "|".join(map(re.escape, keys)) + "))") if keys else None

    def __len__(self) -> int:
        return sum(len(v) for v in self._index.values())

    def find(self, text: str) -> list[Match]:
        if self._starts is None:
            return []
        folded = fold(text)
        out, n, last_end = [], len(folded), 0
        index = self._index
        for m in self._starts.finditer(folded):
            i = m.start()
            if i < last_end:
                continue
            for phrase, values in index[m.group(1)]:
                if folded.startswith(phrase, i):
                    end = i + len(phrase)
                    # Latin phrases must be whole words ("Heping" not inside "Hepingxi").
                    if _WORDCHAR.match(phrase[0]) and i > 0 and _WORDCHAR.match(folded[i - 1]):
                        continue
                    if _WORDCHAR.match(phrase[-1]) and end < n and _WORDCHAR.match(folded[end]):
                        continue
                    out.append(Match(i, end, text[i:end], values))
                    last_end = end
                    break
        return out
