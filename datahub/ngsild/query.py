"""The NGSI-LD query language (`q`, ETSI GS CIM 009 §4.9): parsed once, evaluated per entity.

    q = term (";" term | "|" term)*      ";" is AND, "|" is OR (AND binds tighter); parentheses group
    term = attr [op value]               attr alone: the attribute exists
    op = == != > >= < <= ~= !~=          ~= is a regular expression match
    value = number | "string" | true | false | date | a..b (range) | a,b,c (any of)

`attr` may be `attr.subAttr` (e.g. `pm25.observedAt`) or `attr[key]` for a compound value.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .selectors import bad

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lp>\() | (?P<rp>\)) | (?P<and>;) | (?P<or>\|) |
        (?P<op>==|!=|>=|<=|!~=|~=|>|<) |
        (?P<str>"(?:[^"\\]|\\.)*") |
        (?P<word>[^\s()";|=!<>~]+)
    )""",
    re.VERBOSE,
)
_ATTR = re.compile(r"^[A-Za-z_@][\w@:/#-]*(?:\.[\w@:/#-]+)*(?:\[[\w-]+\])*$")
MAX_Q = 1000


def _tokens(q: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    q = q.strip()
    while pos < len(q):
        m = _TOKEN.match(q, pos)
        if not m or m.end() == pos:
            raise bad(f"q: cannot parse the query at {q[pos : pos + 20]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(q) and q[pos].isspace():
            pos += 1
    return out


def _scalar(text: str):
    if text.startswith('"'):
        return text[1:-1].replace('\\"', '"')
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text  # dates and times compare as ISO text


def _value(tokens: list, i: int):
    """A comparable value: scalar, range or list. Strings may hold commas and dots, so a list and
    a range are split on the raw words only."""
    kind, text = tokens[i]
    if kind == "str":
        return ("scalar", _scalar(text)), i + 1
    if kind != "word":
        raise bad("q: expected a value after the operator")
    if ".." in text:
        lo, _, hi = text.partition("..")
        return ("range", (_scalar(lo), _scalar(hi))), i + 1
    if "," in text:
        return ("list", [_scalar(x) for x in text.split(",")]), i + 1
    return ("scalar", _scalar(text)), i + 1


def _get(attrs: dict, path: str):
    """The value a path names in a normalized entity, or a sentinel when absent."""
    keys = re.findall(r"\[([\w-]+)\]", path)
    base = path.split("[", 1)[0]
    name, _, sub = base.partition(".")
    attr = attrs.get(name, _MISSING)
    if attr is _MISSING:
        return _MISSING
    if isinstance(attr, dict) and attr.get("type") in ("Property", "GeoProperty", "Relationship", "LanguageProperty"):
        if sub:
            value = attr.get(sub, _MISSING)
        else:
            value = attr.get("object") if attr.get("type") == "Relationship" else attr.get("value", _MISSING)
    else:
        value = attr
    if isinstance(value, dict) and "@value" in value:
        value = value["@value"]
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


_MISSING = object()


def _compare(actual, op: str, expected) -> bool:
    kind, want = expected
    if actual is _MISSING:
        return False
    values = actual if isinstance(actual, list) else [actual]
    for v in values:
        if kind == "range":
            lo, hi = want
            ok = _lt_eq(lo, v) and _lt_eq(v, hi)
            ok = ok if op == "==" else not ok
        elif kind == "list":
            ok = any(_eq(v, w) for w in want)
            ok = ok if op == "==" else not ok
        elif op in ("~=", "!~="):
            try:
                ok = bool(re.search(str(want), str(v)))
            except re.error:
                raise bad(f"q: {want!r} is not a valid regular expression") from None
            ok = ok if op == "~=" else not ok
        elif op == "==":
            ok = _eq(v, want)
        elif op == "!=":
            ok = not _eq(v, want)
        else:
            try:
                ok = (
                    {">": v > want, ">=": v >= want, "<": v < want, "<=": v <= want}[op]
                    if _comparable(v, want)
                    else False
                )
            except TypeError:
                ok = False
        if ok:
            return True
    return False


def _comparable(a, b) -> bool:
    number = (int, float)
    return (isinstance(a, number) and isinstance(b, number) and not isinstance(a, bool)) or (
        isinstance(a, str) and isinstance(b, str)
    )


def _eq(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def _lt_eq(a, b) -> bool:
    return _comparable(a, b) and a <= b


def parse(q: str) -> Callable[[dict], bool]:
    """A predicate over an entity's normalized attributes; BadRequestData for a malformed query."""
    if len(q) > MAX_Q:
        raise bad(f"q: longer than {MAX_Q} characters")
    tokens = _tokens(q)
    if not tokens:
        raise bad("q: empty query")
    pos = 0

    def expr():  # or-expression
        nonlocal pos
        left = conj()
        while pos < len(tokens) and tokens[pos][0] == "or":
            pos += 1
            right = conj()
            left = (lambda a, b: lambda e: a(e) or b(e))(left, right)
        return left

    def conj():
        nonlocal pos
        left = term()
        while pos < len(tokens) and tokens[pos][0] == "and":
            pos += 1
            right = term()
            left = (lambda a, b: lambda e: a(e) and b(e))(left, right)
        return left

    def term():
        nonlocal pos
        if pos >= len(tokens):
            raise bad("q: the query ends too early")
        kind, text = tokens[pos]
        if kind == "lp":
            pos += 1
            inner = expr()
            if pos >= len(tokens) or tokens[pos][0] != "rp":
                raise bad("q: unbalanced parentheses")
            pos += 1
            return inner
        if kind != "word" or not _ATTR.match(text):
            raise bad(f"q: expected an attribute name, got {text!r}")
        pos += 1
        if pos < len(tokens) and tokens[pos][0] == "op":
            op = tokens[pos][1]
            pos += 1
            if pos >= len(tokens):
                raise bad(f"q: a value must follow {op}")
            value, pos = _value(tokens, pos)
            if value[0] in ("range", "list") and op not in ("==", "!="):
                raise bad(f"q: {op} cannot take a range or a list")
            return lambda e, a=text, o=op, v=value: _compare(_get(e, a), o, v)
        return lambda e, a=text: _get(e, a) is not _MISSING

    predicate = expr()
    if pos != len(tokens):
        raise bad(f"q: unexpected {tokens[pos][1]!r}")
    return predicate
