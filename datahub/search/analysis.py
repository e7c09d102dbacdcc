"""Turning text into index tokens (documents) and tsquery pieces (queries).

Chinese is matched on character bigrams stored at their character positions, so any substring of
two or more characters is a phrase of bigrams (`'待处' <-> '处理'`) that the GIN index answers
exactly: 处理 finds 待处理, 农业 finds 中国农业发展银行. jieba's search mode (`cut_for_search`)
gives the words of a title, whose pinyin and initials are indexed too (chaoyang, cy → 朝阳);
Latin words are indexed as they are (codes, pinyin, typo vocabulary) and through PostgreSQL's
`english` configuration (stemming) by the upsert's SQL.
"""

from __future__ import annotations

import itertools
import logging
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

import jieba
from pypinyin import Style, pinyin

jieba.setLogLevel(logging.WARNING)

CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
LATIN_WORD = re.compile(r"[a-z0-9][a-z0-9._\-]*[a-z0-9]|[a-z0-9]")
# Field position offsets inside the tsvector: a phrase never spans two fields.
TITLE_AT, IDENT_AT, BODY_AT = 1, 1200, 2400
BODY_CHARS = 6000  # positions stop at 16383; the rest of a long body is not worth the index space
MAX_PINYIN_VARIANTS = 4


def normalize(text: str) -> str:
    """NFKC (full-width → half-width) and lower case."""
    return unicodedata.normalize("NFKC", text or "").lower()


@lru_cache(maxsize=1)
def _init_jieba() -> None:
    jieba.initialize()


@lru_cache(maxsize=300_000)
def _lex(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)] if len(run) > 1 else [run]


@lru_cache(maxsize=200_000)
def word_pinyin(word: str) -> tuple[str, ...]:
    """Full pinyin and initials of a Chinese word, with the readings of polyphonic characters
    (朝阳 → zhaoyang, chaoyang, zy, cy), at most MAX_PINYIN_VARIANTS of each."""
    full = pinyin(word, style=Style.NORMAL, heteronym=True, errors="ignore")
    if not full:
        return ()
    combos = list(itertools.islice(itertools.product(*[r[:2] for r in full]), MAX_PINYIN_VARIANTS))
    out = {"".join(c) for c in combos}
    out |= {"".join(s[0] for s in c) for c in combos if len(c) > 1}
    return tuple(sorted(out))


def _search_words(words: list[str]) -> Iterator[str]:
    """jieba's search mode (`cut_for_search`) from an already cut list: the dictionary's 2- and
    3-character words inside each longer word, then the word (农业发展银行 → 农业, 发展, 银行, …)."""
    freq = jieba.dt.FREQ
    for w in words:
        if len(w) > 2:
            for i in range(len(w) - 1):
                if freq.get(w[i : i + 2]):
                    yield w[i : i + 2]
        if len(w) > 3:
            for i in range(len(w) - 2):
                if freq.get(w[i : i + 3]):
                    yield w[i : i + 3]
        yield w


@lru_cache(maxsize=100_000)
def _run_words(run: str) -> tuple[tuple[tuple[int, tuple[str, ...]], ...], frozenset[str]]:
    """The pinyin of one Chinese run's words, memoised (the same runs come back in every batch:
    street names, categories, company suffixes): ((offset in the run, pinyin variants), …) and
    the vocabulary. jieba's words in search mode, the whole run when short, pairs of
    consecutive words (白鹭 街道 → bailujiedao, bljd: a name typed in pinyin usually spans two)."""
    out: list[tuple[int, tuple[str, ...]]] = []
    vocab: set[str] = set()
    n = len(run)
    seen_words: set[str] = set()
    ws = jieba.lcut(run, HMM=False)
    for w in _search_words(ws):
        if len(w) < 2 or w in seen_words:
            continue
        seen_words.add(w)
        pys = word_pinyin(w)
        out.append((max(run.find(w), 0), pys))
        vocab.update(py for py in pys if len(py) > 2)
    if 2 < n <= 8 and run not in seen_words:
        out.append((0, word_pinyin(run)))
    offset = 0
    for x, y in itertools.pairwise(ws):
        if len(x) + len(y) <= 8 and len(x) + len(y) < n:
            out.append((offset, word_pinyin(x + y)))
        offset += len(x)
    return tuple(out), frozenset(vocab)


def _index_field(lexemes: dict[str, list[str]], text: str, start: int, weight: str, *, words: bool) -> set[str]:
    """Bigrams of every Chinese run at their positions and Latin tokens; with `words` also the
    pinyin and initials of jieba's words and of pairs of consecutive words. Returns the Latin and
    pinyin vocabulary seen. (The hot loop of indexing: kept to plain dict and list operations.)"""
    vocab: set[str] = set()
    get = lexemes.setdefault
    for m in CJK_RUN.finditer(text):
        run, at = m.group(), start + m.start()
        n = len(run)
        if n == 1:
            get(run, []).append(f"{at}{weight}")
        for i in range(n - 1):
            get(run[i : i + 2], []).append(f"{at + i}{weight}")
        if not words:
            continue
        found, words_vocab = _run_words(run)
        vocab |= words_vocab
        for rel, pys in found:
            pos = f"{at + rel}{weight}"
            for py in pys:
                get(py, []).append(pos)
    for m in LATIN_WORD.finditer(text):
        tok = m.group()
        pos = f"{start + m.start()}{weight}"
        get(tok, []).append(pos)
        if "." in tok or "-" in tok or "_" in tok:
            for part in re.split(r"[._\-]", tok):
                if part:
                    get(part, []).append(pos)
        if 2 < len(tok) <= 30 and tok.isalpha():
            vocab.add(tok)
    return vocab


def body_stream(text: str) -> str:
    """The body as a stream of tokens for PostgreSQL's parser (`to_tsvector('simple', …)`): each
    Chinese run as its bigrams in order (consecutive positions, so a phrase of bigrams is a
    substring), Latin words as they are. ~5x cheaper than building the positions in Python."""
    out: list[str] = []
    pos = 0
    for m in CJK_RUN.finditer(text):
        if m.start() > pos:
            out.append(text[pos : m.start()])
        run = m.group()
        out.append(" ".join([run[i : i + 2] for i in range(len(run) - 1)]) if len(run) > 1 else run)
        pos = m.end()
    out.append(text[pos:])
    return " ".join(out)


def _field_literal(text: str, start: int, weight: str, *, words: bool) -> tuple[str, frozenset[str]]:
    """One field's piece of the tsvector literal and its vocabulary. The pieces of two fields are
    joined by a space: tsvector input merges a lexeme's positions from both."""
    lexemes: dict[str, list[str]] = {}
    vocab = _index_field(lexemes, text, start, weight, words=words)
    return " ".join([f"{_lex(t)}:{','.join(p)}" for t, p in lexemes.items() if len(t) < 200]), frozenset(vocab)


# Titles come back: a case's category sentence, a street's facilities, a company suffix; the
# title's piece is computed once per distinct title (the hot path of indexing: ~60% of its time).
@lru_cache(maxsize=50_000)
def _title_literal(title: str) -> tuple[str, frozenset[str]]:
    return _field_literal(normalize(title)[: IDENT_AT - TITLE_AT - 1], TITLE_AT, "A", words=True)


def document_tokens(*, title: str, identifiers: str, body: str) -> tuple[str, str, frozenset[str]]:
    """The tsvector literal of the title and identifiers (with pinyin), the body's token stream,
    and the vocabulary (Latin words, pinyin) for typo tolerance."""
    _init_jieba()
    literal, vocab = _title_literal(title)
    if identifiers:
        ident, _v = _field_literal(normalize(identifiers)[: BODY_AT - IDENT_AT - 1], IDENT_AT, "B", words=False)
        literal = f"{literal} {ident}" if literal else ident
    return literal, body_stream(normalize(body)[:BODY_CHARS]) if body else "", vocab


def access_lexemes(*, level: int, grants: list[str], dept_path: str) -> str:
    """The item's access lexemes as a tsvector literal piece (no positions: they are not text):
    the level (§l0 public, §l1 internal, §l2 restricted), its grants (§g…), every
    department-path prefix of the owner (§d/1/, §d/1/4/…: the subtrees it lies in) and the
    owner's exact path (§e/1/4/: for members of sub-departments). selectors.visibility_sql
    ANDs them to an officer's query in the restricted items' GIN index."""
    out = [f"§l{level}"] + [f"§g{g}" for g in grants]
    out += [f"§d{dept_path[: i + 1]}" for i in range(1, len(dept_path)) if dept_path[i] == "/"]
    if dept_path:
        out.append(f"§e{dept_path}")
    return " ".join(_lex(t) for t in out)


def latin_only(text: str) -> str:
    """The Latin words of a text (what PostgreSQL's `english` configuration should stem)."""
    return " ".join(LATIN_WORD.findall(normalize(text)))


# --- queries -------------------------------------------------------------------------------------


def tsquery_literal_cjk(word: str) -> str:
    """A Chinese word as a phrase of its bigrams; one character is a prefix of the bigrams."""
    if len(word) == 1:
        return f"{_lex(word)}:*"
    return " <-> ".join(_lex(b) for b in bigrams(word))


def quote_lexeme(word: str) -> str:
    return _lex(word)


def split_query_words(text: str) -> list[str]:
    """Words of a free-text query: jieba (precise mode) over Chinese runs, Latin tokens as they are."""
    _init_jieba()
    out: list[str] = []
    text = normalize(text)
    pos = 0
    for m in CJK_RUN.finditer(text):
        out += LATIN_WORD.findall(text[pos : m.start()])
        out += _cjk_query_words(m.group())
        pos = m.end()
    out += LATIN_WORD.findall(text[pos:])
    return out


def is_cjk(word: str) -> bool:
    return bool(CJK_RUN.fullmatch(word))


STOP_CHARS = frozenset("的了和与及或在是")


def _cjk_query_words(run: str) -> list[str]:
    """A short run is one phrase (待处理 stays a substring); a long one is cut into words, with a
    lone character joined to its neighbour so no word degrades to a one-character prefix."""
    if len(run) <= 4:
        return [run] if run not in STOP_CHARS else []
    words: list[str] = []
    for w in jieba.lcut(run, HMM=False):
        if w in STOP_CHARS:
            continue
        if len(w) == 1 and words:
            words[-1] += w
        elif words and len(words[-1]) == 1:
            words[-1] += w
        else:
            words.append(w)
    return words


# --- suggestions -----------------------------------------------------------------------------------

# Kind priors: places and datasets are what a bare name most often means (ranking and suggestions).
KIND_PRIOR = {"area": 0.25, "dataset": 0.15, "enterprise": 0.12, "facility": 0.1, "case": 0.05}
SUGGEST_CHARS = 48  # a term is cut here (and so is what is typed): a longer prefix adds nothing
SUGGEST_STARTS = 4  # word starts after the title's own start that begin a term
PINYIN_STARTS = 2  # word starts of the first Chinese run whose pinyin and initials are terms
_NOT_WORD = re.compile(r"[\W_]+")


def suggest_text(text: str) -> str:
    """What a term and a typed prefix are compared on: NFKC, lower case, punctuation as spaces,
    single spaces ("Wangjing: garbage" and "wangjing garb" meet)."""
    return " ".join(_NOT_WORD.sub(" ", normalize(text)).split())


@lru_cache(maxsize=100_000)
def _pinyin_from(rest: str) -> tuple[str, ...]:
    """Full pinyin and initials of a Chinese run from a word start: both readings of the first
    character (朝阳: chaoyang, zhaoyang), the first reading of the others."""
    readings = pinyin(rest, style=Style.NORMAL, heteronym=True, errors="ignore")
    if not readings:
        return ()
    tail = [r[0] for r in readings[1:]]
    out: list[str] = []
    for head in readings[0][:2]:
        syllables = [head, *tail]
        out.append("".join(syllables)[:SUGGEST_CHARS])
        if len(syllables) > 1:
            out.append("".join(s[0] for s in syllables)[:16])
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=100_000)
def _cjk_starts(run: str) -> tuple[int, ...]:
    """Offsets of jieba's search-mode words in a Chinese run (农业 inside 中国农业发展银行)."""
    _init_jieba()
    return tuple(sorted({start for _w, start, _end in jieba.tokenize(run, mode="search", HMM=False) if start}))


def suggest_terms(*texts: str) -> list[str]:
    """The terms a title is suggested by (see models.SearchSuggestion), title start first."""
    terms: dict[str, None] = {}

    def add(term: str) -> None:
        term = term[:SUGGEST_CHARS].rstrip()
        if term:
            terms.setdefault(term)

    for text in texts:
        s = suggest_text(text)
        if not s:
            continue
        add(s)
        starts: set[int] = set()
        first_run: tuple[int, str] | None = None
        for m in re.finditer(r"[^\s]+", s):
            token_start = m.start()
            if token_start:
                starts.add(token_start)
            for r in CJK_RUN.finditer(m.group()):
                at = token_start + r.start()
                if at:
                    starts.add(at)
                starts.update(at + o for o in _cjk_starts(r.group()))
                if first_run is None:
                    first_run = (at, r.group())
        for at in sorted(starts)[:SUGGEST_STARTS]:
            add(s[at:])
        if first_run:
            at, run = first_run
            for o in (0, *_cjk_starts(run))[:PINYIN_STARTS]:
                for py in _pinyin_from(run[o : o + 16]):
                    add(py)
    return list(terms)
