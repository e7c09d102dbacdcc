"""No code word on a staff page: statuses, actions, channels, event types and roles are shown by
their translated labels, in Chinese and in English.

The demo city is built once; the staff pages are crawled as in test_every_page (same seeds, same
link following) for the hotline operator, an officer and the city leader in Chinese, and the leader
in English. The visible text of each page (no tags, scripts, styles, attribute values, <code>/<pre>
samples or form values) must not contain a known code word: every registered status, action,
channel, event type and role code, and every choice value of the project's models. In English,
plain words such as "closed" are ordinary English, so only identifier-like codes (with "_" or ".")
count there.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client

from cityos.labels import known_codes
from tests.cityos.test_every_page import HREF, SKIP_PREFIXES, _objects, _seed_urls, _shape
from tests.demo_snapshot import demo_city

pytestmark = pytest.mark.django_db(transaction=False)

MAX_PAGES_PER_LOGIN = 120
PROJECT_APPS = ("cityos", "datahub", "governance", "industry", "livelihood")
# <title> repeats the page's heading (checked there) in the browser's tab.
_HIDDEN = re.compile(r"<(script|style|code|pre|kbd|textarea|select|template|title)\b.*?</\1>", re.S | re.I)
# Data shown verbatim (an entity's own attributes, a document's text) is marked translate="no".
_VERBATIM = re.compile(r"<(\w+)\b[^>]*\btranslate=\"no\"[^>]*>.*?</\1>", re.S | re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"<[^>]+>")


def visible_text(body: str) -> str:
    body = _COMMENT.sub(" ", _HIDDEN.sub(" ", _VERBATIM.sub(" ", body)))
    return html.unescape(_TAG.sub(" ", body))


def code_words() -> set[str]:
    """Registered codes plus the choice values of every model field of the project's apps."""
    codes = set(known_codes())
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        for field in model._meta.get_fields():
            for value, _label in getattr(field, "flatchoices", None) or []:
                if isinstance(value, str):
                    codes.add(value)
    # Lower-case identifiers only (a code is never "API" or "A"); three letters at least.
    return {c for c in codes if re.fullmatch(r"[a-z][a-z0-9_.]{2,}", c) and not c.endswith(".*")}


def _finder(codes: set[str], english: bool):
    if english:
        codes = {c for c in codes if "_" in c or "." in c}
    alternation = "|".join(sorted((re.escape(c) for c in codes), key=len, reverse=True)) or "(?!)"
    # Whole words only: "closed" is not in "enclosed", nor "case.close" in "case.closed".
    return re.compile(rf"(?<![A-Za-z0-9_./-])(?:{alternation})(?![A-Za-z0-9_/-]|\.[a-z]|://)")


def _crawl(client: Client, seeds: list[str], finder, label: str, found: list[str]) -> int:
    seen: set = set()
    queue, pages = list(seeds), 0
    while queue and pages < MAX_PAGES_PER_LOGIN:
        url = queue.pop(0)
        shape = _shape(url)
        if shape in seen:
            continue
        seen.add(shape)
        resp = client.get(url)
        if resp.status_code != 200 or "html" not in resp.get("Content-Type", ""):
            continue
        pages += 1
        body = resp.content.decode(errors="replace")
        text = visible_text(body)
        for m in finder.finditer(text):
            around = " ".join(text[max(0, m.start() - 30) : m.end() + 30].split())
            found.append(f"{label} {url}: {m.group(0)!r} in «{around}»")
        for href in HREF.findall(body):
            href = href.replace("&amp;", "&")
            if href.startswith(SKIP_PREFIXES) or href.endswith((".csv", ".xlsx", ".geojson")):
                continue
            parts = urlsplit(href)
            query = [(k, v) for k, v in parse_qsl(parts.query) if not (k == "page" and v not in ("1", "2"))]
            queue.append(parts.path + ("?" + urlencode(query) if query else ""))
    return pages


def test_it_finds_a_code_word_in_visible_text_and_nowhere_else():
    finder = _finder({"in_progress", "dispatched", "case.overdue"}, english=False)
    page = (
        '<p title="dispatched">已派单</p><script>var s = "in_progress";</script><code>case.overdue</code>'
        '<select><option value="dispatched">已派单</option></select><a href="/x/?status=dispatched">x</a>'
    )
    assert not finder.search(visible_text(page))
    assert not finder.search(visible_text('<table translate="no"><tr><td>dispatched</td></tr></table>'))
    assert finder.search(visible_text("<li>dispatched → accepted</li>"))
    assert finder.search(visible_text("<li>10:00 case.overdue</li>"))
    assert not _finder({"dispatched"}, english=True).search("Dispatched: dispatched")


def test_no_staff_page_shows_a_code_word_in_chinese_or_english():
    demo_city()
    seeds = _seed_urls(_objects())
    codes = code_words()
    assert {"in_progress", "dispatched", "case.overdue", "city_leader", "hotline"} <= codes
    found: list[str] = []
    pages = {}
    users = get_user_model().objects
    for username in ("hotline", "officer", "leader"):
        client = Client(raise_request_exception=False, headers={"accept-language": "zh-hans"})
        client.cookies["django_language"] = "zh-hans"
        client.force_login(users.get(username=username))
        pages[username] = _crawl(client, seeds, _finder(codes, english=False), username, found)
    client = Client(raise_request_exception=False, headers={"accept-language": "en"})
    client.cookies["django_language"] = "en"
    client.force_login(users.get(username="leader"))
    pages["leader/en"] = _crawl(client, seeds, _finder(codes, english=True), "leader/en", found)
    assert all(n > 20 for n in pages.values()), pages
    assert not found, f"{len(found)} code words on screen:\n" + "\n".join(sorted(set(found))[:300])
