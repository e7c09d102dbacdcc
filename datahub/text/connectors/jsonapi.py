"""A generic JSON web API: where the items are, which field is which (dotted JSON paths), and
how to page (page numbers or a next link).

    {"url": "https://api.example.org/posts", "items_path": "data.items",
     "mapping": {"title": "title", "body": "content.text", "url": "link", "author": "user.name",
                 "published": "created_at", "id": "id"},
     "paging": {"type": "page", "param": "page", "start": 1, "max_pages": 10}
            or {"type": "next", "next_path": "links.next", "max_pages": 10}}
"""

import email.utils
import json
from datetime import UTC, datetime
from urllib.parse import urljoin

from django.utils.dateparse import parse_datetime

from datahub.text.connectors.base import PullResult
from datahub.text.connectors.http import FetchError, HttpConfig, http_get
from datahub.text.services.documents import RawItem

DEFAULT_MAPPING = {
    "title": "title",
    "body": "body",
    "url": "url",
    "author": "author",
    "published": "published",
    "id": "id",
}
MAX_PAGES = 50


def json_path(data, path: str):
    """`a.b.0.c` (a leading `$.` is allowed); None when any step is missing."""
    if not path:
        return None
    path = path[2:] if path.startswith("$.") else path
    cur = data
    for step in path.split("."):
        if isinstance(cur, list) and step.lstrip("-").isdigit():
            idx = int(step)
            cur = cur[idx] if -len(cur) <= idx < len(cur) else None
        elif isinstance(cur, dict):
            cur = cur.get(step)
        else:
            return None
        if cur is None:
            return None
    return cur


def parse_when(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds vs seconds
        return datetime.fromtimestamp(seconds, tz=UTC)
    text = str(value).strip()
    if text.isdigit():
        return parse_when(int(text))
    try:
        dt = parse_datetime(text.replace(" ", "T", 1) if len(text) >= 19 and text[10] == " " else text)
    except ValueError:
        dt = None
    if dt is None:
        try:
            dt = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return dt


def map_item(obj, mapping: dict) -> RawItem:
    m = {**DEFAULT_MAPPING, **(mapping or {})}

    def s(key: str) -> str:
        v = json_path(obj, m.get(key, ""))
        return "" if v is None else str(v)

    return RawItem(
        title=s("title"),
        body=s("body"),
        url=s("url"),
        author=s("author"),
        published_at=parse_when(json_path(obj, m.get("published", ""))),
        external_id=s("id"),
    )


def items_of(payload, items_path: str) -> list:
    items = json_path(payload, items_path) if items_path else payload
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise FetchError("bad_payload", f"no list of items at '{items_path or '$'}'")
    return items


def pull(*, source, state) -> PullResult:
    conf = source.config
    cfg = HttpConfig.from_config(conf)
    url = conf.get("url")
    if not url:
        raise FetchError("misconfigured", "source config has no 'url'")
    paging = conf.get("paging") or {}
    max_pages = min(int(paging.get("max_pages", 10)), MAX_PAGES)
    params = dict(conf.get("params") or {})
    headers = {"Accept": "application/json", **(conf.get("headers") or {})}
    if token := (source.credentials or {}).get("bearer_token"):
        headers["Authorization"] = f"Bearer {token}"
    result = PullResult(status_code=200)
    page = int(paging.get("start", 1))
    next_url: str | None = url
    for n in range(max_pages):
        if paging.get("type") == "page":
            params[paging.get("param", "page")] = page + n
        resp = http_get(
            next_url,
            cfg=cfg,
            rate_key=f"source:{source.id}",
            headers=headers,
            params=params if paging.get("type") != "next" or n == 0 else None,
        )
        result.requests += resp.attempts
        try:
            payload = json.loads(resp.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FetchError("bad_payload", f"page {n + 1} of {next_url} is not JSON: {exc}") from exc
        raw = items_of(payload, conf.get("items_path", ""))
        for i, obj in enumerate(raw):
            if not isinstance(obj, dict):
                result.warnings.append({"code": "bad_item", "message": f"page {n + 1} item {i + 1} is not an object"})
                continue
            result.items.append(map_item(obj, conf.get("mapping") or {}))
        if not raw or not paging:
            break
        if paging.get("type") == "next":
            nxt = json_path(payload, paging.get("next_path", "next"))
            if not nxt:
                break
            next_url = urljoin(resp.url, str(nxt))
    return result
