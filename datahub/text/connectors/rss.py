"""RSS 0.9x/1.0/2.0 and Atom through feedparser, on bytes we fetched ourselves (so timeouts,
size limits, redirects and the rate limit are ours, not feedparser's urllib)."""

import calendar
from datetime import UTC, datetime

import feedparser

from datahub.text.connectors.base import PullResult
from datahub.text.connectors.encoding import to_utf8_xml
from datahub.text.connectors.http import FetchError, HttpConfig, http_get
from datahub.text.services.documents import RawItem


def _when(entry) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    return None


def _body(entry) -> str:
    content = entry.get("content")
    if content:
        return " ".join(c.get("value", "") for c in content)
    return entry.get("summary", "") or entry.get("description", "")


def parse_feed(content: bytes, content_type: str = "") -> tuple[list[RawItem], list[dict]]:
    """Items of a feed document; raises FetchError when it is not a feed at all."""
    data, encoding = to_utf8_xml(content, content_type)
    parsed = feedparser.parse(data)
    warnings = []
    if parsed.bozo:
        exc = parsed.get("bozo_exception")
        warnings.append(
            {"code": "malformed_feed", "message": f"feed is not well-formed ({exc.__class__.__name__}: {exc})"}
        )
    if not parsed.entries:
        if parsed.bozo or not parsed.version:
            raise FetchError(
                "not_a_feed", warnings[0]["message"] if warnings else "the document is not an RSS/Atom feed"
            )
        return [], warnings
    items = []
    for e in parsed.entries:
        items.append(
            RawItem(
                title=e.get("title", ""),
                body=_body(e),
                url=e.get("link", ""),
                author=e.get("author", ""),
                published_at=_when(e),
                external_id=e.get("id", "") or e.get("link", ""),
            )
        )
    if encoding not in ("utf-8",):
        warnings.append({"code": "encoding", "message": f"decoded as {encoding}"})
    return items, warnings


def pull(*, source, state) -> PullResult:
    cfg = HttpConfig.from_config(source.config)
    url = source.config.get("url")
    if not url:
        raise FetchError("misconfigured", "source config has no 'url'")
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    resp = http_get(url, cfg=cfg, rate_key=f"source:{source.id}", headers=headers)
    lower = {k.lower(): v for k, v in resp.headers.items()}
    if resp.status == 304:
        return PullResult(
            not_modified=True,
            etag=state.etag,
            last_modified=state.last_modified,
            status_code=304,
            requests=resp.attempts,
        )
    items, warnings = parse_feed(resp.content, lower.get("content-type", ""))
    return PullResult(
        items=items,
        etag=lower.get("etag", ""),
        last_modified=lower.get("last-modified", ""),
        status_code=resp.status,
        warnings=warnings,
        requests=resp.attempts,
    )
