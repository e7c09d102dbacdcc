"""Feeds in the wild lie about their encoding: GBK declared as UTF-8, GBK not declared at all,
GB2312 declared for GB18030 text. Decode to text we trust, then hand feedparser UTF-8 bytes
with a matching declaration."""

import re

_PROLOG = re.compile(rb"^(\s*<\?xml[^>]*?encoding=)([\"'])([A-Za-z0-9_\-.:]+)\2", re.IGNORECASE)
_CHARSET = re.compile(r"charset=[\"']?([A-Za-z0-9_\-.:]+)", re.IGNORECASE)
_GB = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn"}


def _norm(enc: str | None) -> str | None:
    if not enc:
        return None
    enc = enc.strip().lower()
    return "gb18030" if enc in _GB else enc  # GB18030 is a superset: decodes what GB2312 mislabels


def decode_bytes(content: bytes, content_type: str = "") -> tuple[str, str]:
    """(text, encoding used). Tries the declared encodings, UTF-8, GB18030, then detection."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    elif content[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return content.decode("utf-16"), "utf-16"
    m = _PROLOG.match(content[:200])
    h = _CHARSET.search(content_type or "")
    candidates = [
        _norm(m.group(3).decode("ascii")) if m else None,
        _norm(h.group(1)) if h else None,
        "utf-8",
        "gb18030",
    ]
    for enc in dict.fromkeys(c for c in candidates if c):
        try:
            return content.decode(enc), enc
        except (UnicodeDecodeError, LookupError):
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(content).best()
    if best is not None:
        return str(best), best.encoding
    return content.decode("utf-8", errors="replace"), "utf-8/replace"


def to_utf8_xml(content: bytes, content_type: str = "") -> tuple[bytes, str]:
    text, enc = decode_bytes(content, content_type)
    data = text.encode("utf-8")
    data = _PROLOG.sub(lambda mm: mm.group(1) + mm.group(2) + b"utf-8" + mm.group(2), data, count=1)
    return data, enc
