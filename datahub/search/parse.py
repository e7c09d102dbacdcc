"""Query understanding: what the words of a query mean before it is matched.

`朝阳区上周噪音投诉` → kind=case, area=朝阳区, time=last week, category=noise, text="". Each
understood part is removed from the text and returned as a chip the page can remove (`ignore`).
Vocabulary: places from the gazetteer, kinds and statuses below, categories from the providers'
facet labels (governance's categories and their keywords), times by the patterns below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from datahub.core.selectors import gazetteer

# word → kinds it asks for (longest words first when matching)
KIND_WORDS: dict[str, list[str]] = {
    "投诉": ["case"],
    "工单": ["case"],
    "案件": ["case"],
    "诉求": ["case"],
    "举报": ["case"],
    "complaints": ["case"],
    "complaint": ["case"],
    "cases": ["case"],
    "case": ["case"],
    "企业": ["enterprise"],
    "公司": ["enterprise"],
    "enterprises": ["enterprise"],
    "enterprise": ["enterprise"],
    "companies": ["enterprise"],
    "company": ["enterprise"],
    "数据集": ["dataset"],
    "datasets": ["dataset"],
    "dataset": ["dataset"],
    "告警": ["alert"],
    "报警": ["alert"],
    "预警": ["alert"],
    "alerts": ["alert"],
    "alert": ["alert"],
    "设备": ["device"],
    "传感器": ["device"],
    "devices": ["device"],
    "sensors": ["device"],
    "舆情": ["document"],
    "新闻": ["document"],
    "news": ["document"],
    "设施": ["facility"],
    "facilities": ["facility"],
}
# word → (facet, value) for things that are a kind plus a facet
METRIC_WORDS: dict[str, tuple[list[str], str, str]] = {
    "pm2.5": (["datastream"], "metric", "pm25"),
    "pm25": (["datastream"], "metric", "pm25"),
    "pm10": (["datastream"], "metric", "pm10"),
}
STATUS_WORDS: dict[str, str] = {
    "超期": "overdue",
    "逾期": "overdue",
    "超时": "overdue",
    "overdue": "overdue",
    "未处理": "open",
    "未办结": "open",
    "未完成": "open",
    "unresolved": "open",
    "已办结": "done",
    "已处理": "done",
    "已解决": "done",
    "resolved": "done",
}
CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
CN_WEEKDAYS = {"周一": 0, "周二": 1, "周三": 2, "周四": 3, "周五": 4, "周六": 5, "周日": 6, "周天": 6}


@dataclass
class Parsed:
    text: str
    kinds: list[str] = field(default_factory=list)
    area_id: int | None = None
    area_name: str = ""
    since: datetime | None = None
    until: datetime | None = None
    time_label: str = ""
    category: str | None = None
    status: str | None = None
    facets: dict[str, str] = field(default_factory=dict)
    chips: list[dict] = field(default_factory=list)


def _num(s: str) -> int | None:
    if s.isdigit():
        return int(s)
    if s in CN_DIGITS:
        return CN_DIGITS[s]
    if len(s) == 2 and s[0] == "十" and s[1] in CN_DIGITS:
        return 10 + CN_DIGITS[s[1]]
    if len(s) == 2 and s[1] == "十" and s[0] in CN_DIGITS:
        return CN_DIGITS[s[0]] * 10
    return None


def _day_start(d: date) -> datetime:
    return timezone.make_aware(datetime.combine(d, time.min))


def _times(now: datetime) -> list[tuple[re.Pattern, callable]]:
    today = timezone.localdate(now)
    monday = today - timedelta(days=today.weekday())
    month1 = today.replace(day=1)
    prev_month1 = (month1 - timedelta(days=1)).replace(day=1)

    def days(n: int) -> tuple[datetime, datetime | None]:
        return _day_start(today - timedelta(days=max(n, 1) - 1)), None

    def safe_date(y: int, m: int, d: int) -> date | None:
        try:
            return date(y, m, d)
        except ValueError:
            return None

    def one_day(d: date | None):
        return (_day_start(d), _day_start(d + timedelta(days=1))) if d else None

    num = r"(\d{1,3}|[一二两三四五六七八九十]{1,2})"
    return [
        (
            re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"),
            lambda m: one_day(safe_date(*map(int, m.groups()))),
        ),
        (re.compile(r"(\d{1,2})月(\d{1,2})[日号]"), lambda m: one_day(safe_date(today.year, *map(int, m.groups())))),
        (
            re.compile(r"(\d{4})年(\d{1,2})月"),
            lambda m: (
                (_day_start(d), _day_start((d + timedelta(days=32)).replace(day=1)))
                if (d := safe_date(int(m.group(1)), int(m.group(2)), 1))
                else None
            ),
        ),
        (
            re.compile(rf"(?:最近|近|过去){num}天|last {num} days|past {num} days"),
            lambda m: days(_num(next(g for g in m.groups() if g)) or 1),
        ),
        (re.compile(r"今天|today"), lambda m: (_day_start(today), None)),
        (re.compile(r"昨天|昨日|yesterday"), lambda m: one_day(today - timedelta(days=1))),
        (re.compile(r"前天"), lambda m: one_day(today - timedelta(days=2))),
        (re.compile(r"本周|这周|这星期|this week"), lambda m: (_day_start(monday), None)),
        (
            re.compile(r"上周|上星期|上个星期|last week"),
            lambda m: (_day_start(monday - timedelta(days=7)), _day_start(monday)),
        ),
        (re.compile(r"本月|这个月|this month"), lambda m: (_day_start(month1), None)),
        (re.compile(r"上个月|上月|last month"), lambda m: (_day_start(prev_month1), _day_start(month1))),
        (re.compile(r"今年|this year"), lambda m: (_day_start(today.replace(month=1, day=1)), None)),
        (
            re.compile(r"去年|last year"),
            lambda m: (_day_start(date(today.year - 1, 1, 1)), _day_start(date(today.year, 1, 1))),
        ),
        (
            re.compile(r"since (" + "|".join(WEEKDAYS) + r")"),
            lambda m: (_day_start(today - timedelta(days=(today.weekday() - WEEKDAYS.index(m.group(1))) % 7)), None),
        ),
        (
            re.compile(r"(?:自|从)?(" + "|".join(CN_WEEKDAYS) + r")以来"),
            lambda m: (_day_start(today - timedelta(days=(today.weekday() - CN_WEEKDAYS[m.group(1)]) % 7)), None),
        ),
    ]


def _take(text: str, start: int, end: int) -> str:
    return (text[:start] + " " + text[end:]).strip()


def _english_place_spans(low: str) -> list[tuple[int, int, int]]:
    from .services import english_place_names

    names = english_place_names()
    out = []
    words = list(re.finditer(r"[a-z][a-z'\-]+", low))
    for i, w in enumerate(words):
        if out and w.start() < out[-1][1]:
            continue
        two = low[w.start() : words[i + 1].end()] if i + 1 < len(words) else ""
        for cand in (two, w.group()):
            if cand and names.get(cand):
                out.append((w.start(), w.start() + len(cand), names[cand]))
                break
    return out


def parse(query: str, *, categories: dict[str, str] | None = None, ignore: set[str] | None = None, now=None) -> Parsed:
    """Understand a query. `categories`: {word: category code} (from the providers' facet labels).
    `ignore`: parts the user removed (kind, area, time, category, status) stay plain words."""
    ignore = ignore or set()
    now = now or timezone.now()
    text = " ".join((query or "").split())
    low = text.lower()
    p = Parsed(text=text)

    def cut(start: int, end: int) -> None:
        nonlocal text, low
        text, low = _take(text, start, end), _take(low, start, end)

    if "time" not in ignore:
        for pattern, fn in _times(now):
            m = pattern.search(low)
            if not m:
                continue
            span = fn(m)
            if span is None:
                continue
            p.since, p.until = span
            p.time_label = text[m.start() : m.end()]
            p.chips.append({"field": "time", "label": p.time_label})
            cut(m.start(), m.end())
            break
    if "status" not in ignore:
        for word in sorted(STATUS_WORDS, key=len, reverse=True):
            i = low.find(word)
            if i >= 0:
                p.status = STATUS_WORDS[word]
                p.chips.append({"field": "status", "value": p.status, "label": text[i : i + len(word)]})
                cut(i, i + len(word))
                break
    if "kind" not in ignore:
        for word in sorted(METRIC_WORDS, key=len, reverse=True):
            i = low.find(word)
            if i >= 0:
                kinds, facet, value = METRIC_WORDS[word]
                p.kinds, p.facets[facet] = list(kinds), value
                p.chips.append({"field": "kind", "value": kinds[0], "label": text[i : i + len(word)]})
                cut(i, i + len(word))
                break
        else:
            for word in sorted(KIND_WORDS, key=len, reverse=True):
                m = re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", low)
                if m:
                    p.kinds = list(KIND_WORDS[word])
                    p.chips.append({"field": "kind", "value": p.kinds[0], "label": text[m.start() : m.end()]})
                    cut(m.start(), m.end())
                    break
    # A category word is a filter when the query is about cases (噪音投诉, 超期噪音); alone (噪音)
    # it stays a word, which also finds noise monitors and documents.
    if "category" not in ignore and categories and ("case" in p.kinds or p.status):
        for word in sorted(categories, key=len, reverse=True):
            m = re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", low)
            if m:
                p.category = categories[word]
                p.chips.append({"field": "category", "value": p.category, "label": text[m.start() : m.end()]})
                cut(m.start(), m.end())
                break
    if "area" not in ignore and text:
        spans = gazetteer.match_area_spans(text) or _english_place_spans(low)
        if spans:
            start, end, area_id = spans[-1]  # the most specific (last) place named
            p.area_id, p.area_name = area_id, text[start:end]
            p.chips.append({"field": "area", "value": area_id, "label": p.area_name})
            for s, e, _a in sorted(spans, reverse=True):
                cut(s, e)
    p.text = " ".join(text.split())
    if p.area_id and not p.text and len(p.chips) == 1:
        # A bare place name (朝阳区, "chaoyang") is a search for the place and what names it, not
        # a filter: it stays text.
        p.area_id, p.area_name, p.chips, p.text = None, "", [], " ".join((query or "").split())
    return p
