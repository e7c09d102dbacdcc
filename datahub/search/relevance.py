"""The labelled relevance set over the demo city, and its evaluation (nDCG@10, recall@20).

Queries are built from the demo city's own names by fixed rules (plus hand-written synonym and
intent queries), and each query carries its *judgment rule*: which indexed items are relevant and
how much (3 = the thing named, 2 = names it in its title, 1 = mentions it in its body). The rules
are plain Python over the stored item text, independent of the matcher under test, so a
regression in segmentation, pinyin, typo tolerance or understanding shows as a lower score.

    python manage.py search_relevance      # on a database holding the demo city
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import jieba
from django.utils import timezone
from pypinyin import lazy_pinyin

from ..models import Area, SearchItem
from . import analysis, parse, selectors

SUFFIXES = ("街道", "图书馆分馆", "社区卫生服务中心", "公共厕所", "口袋公园", "小学", "区")


@dataclass
class Query:
    q: str
    type: str
    judge: dict
    relevant: dict[str, int] = field(default_factory=dict)


def _rows() -> list[dict]:
    return list(
        SearchItem.objects.values("kind", "key", "title", "title_en", "body", "body_en", "area_path", "facets", "time")
    )


def _grade_text(row: dict, words: list[str]) -> int:
    title = analysis.normalize(f"{row['title']} {row['title_en']}")
    body = analysis.normalize(f"{row['body']} {row['body_en']}")
    best = 0
    for w in words:
        w = analysis.normalize(w)
        if analysis.normalize(row["title"]) == w or analysis.normalize(row["title_en"]) == w:
            return 3
        if w in title:
            best = max(best, 2)
        elif w in body:
            best = max(best, 1)
    return best


def judge(query: Query, rows: list[dict], areas: dict[str, int]) -> dict[str, int]:
    j, out = query.judge, {}
    now = timezone.now()
    for r in rows:
        g = 0
        if "words" in j:
            g = _grade_text(r, j["words"])
        if "kind" in j:
            if r["kind"] not in j["kind"]:
                continue
            g = g or (2 if "words" not in j else 0)
        if "area" in j and areas[j["area"]] not in (r["area_path"] or []):
            continue
        if "category" in j and r["facets"].get("category") != j["category"]:
            continue
        if "state" in j and r["facets"].get("state") != j["state"]:
            continue
        if "metric" in j and r["facets"].get("metric") != j["metric"]:
            continue
        if "days" in j and (r["time"] is None or r["time"] < now - timedelta(days=j["days"])):
            continue
        if g:
            out[f"{r['kind']}:{r['key']}"] = g
    return out


def _stem(name: str) -> str:
    for s in SUFFIXES:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def _typo(word: str) -> str:
    """A deterministic typo: swap the two letters after the middle."""
    i = len(word) // 2
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :] if len(word) > 4 else word + word[-1]


def build_queries(rows: list[dict]) -> list[Query]:
    qs: list[Query] = []
    districts = list(Area.objects.filter(level="district").order_by("code"))
    streets = list(Area.objects.filter(level="street").order_by("code"))
    # substring: title words of cases, documents and facilities found in 2–30 titles
    titles = [r["title"] for r in rows if r["kind"] in ("case", "facility", "document", "device", "record")]
    df = Counter()
    for t in titles:
        df.update({w for w in jieba.cut(t, HMM=False) if len(w) == 2 and analysis.is_cjk(w)})
    understood = set(parse.KIND_WORDS) | set(parse.STATUS_WORDS)  # those are intent queries
    common = sorted((w for w, n in df.items() if 2 <= n <= 30 and w not in understood), key=lambda w: (-df[w], w))[:34]
    qs += [Query(w, "substring", {"words": [w]}) for w in common]
    # compound: a word inside a longer word (农业 in 中国农业发展银行)
    longs = Counter()
    for t in titles:
        longs.update({w for w in jieba.cut(t, HMM=False) if len(w) >= 4 and analysis.is_cjk(w)})
    seen = set(common)
    for w, _n in sorted(longs.items(), key=lambda kv: (-kv[1], kv[0])):
        for sub in jieba.cut_for_search(w, HMM=False):
            if 2 <= len(sub) < len(w) and sub not in seen:
                seen.add(sub)
                qs.append(Query(sub, "compound", {"words": [sub]}))
                break
        if sum(1 for q in qs if q.type == "compound") >= 20:
            break
    # pinyin and initials of district and street names
    for a in districts + streets:
        stem = _stem(a.name)
        qs.append(Query("".join(lazy_pinyin(stem)), "pinyin", {"words": [stem]}))
        qs.append(Query("".join(p[0] for p in lazy_pinyin(a.name)), "initials", {"words": [a.name]}))
    # English typos of street names; English words
    for a in streets[:24]:
        stem_en = a.name_en.removesuffix(" Subdistrict").lower()
        if len(stem_en) >= 5:
            qs.append(Query(_typo(stem_en), "typo", {"words": [stem_en, _stem(a.name)]}))
    for word, words in [
        ("library", ["library"]),
        ("libraries", ["library"]),
        ("primary school", ["primary school"]),
        ("health centre", ["health centre"]),
        ("public toilet", ["public toilet"]),
        ("pocket park", ["pocket park"]),
        ("air quality", ["air_quality", "air quality"]),
        ("noise", ["noise"]),
        ("electricity", ["electricity"]),
        ("traffic flow", ["traffic_flow", "traffic flow"]),
        ("water level", ["water_level", "water level"]),
        ("PM10", ["pm10"]),
        ("NO2", ["no2"]),
        ("mean speed", ["mean speed"]),
        ("energy", ["energy"]),
        ("complaint letter", ["complaint letter"]),
        ("subdistrict", ["subdistrict"]),
        ("Jiangnan District", ["jiangnan district"]),
        ("Binhu", ["binhu"]),
        ("Gaoxin District", ["gaoxin district"]),
    ]:
        qs.append(Query(word, "english", {"words": words}))
    # synonyms (seeded groups)
    for q, words in [
        ("马路", ["马路", "道路", "公路"]),
        ("公路", ["马路", "道路", "公路"]),
        ("hotline", ["12345", "热线", "hotline"]),
        ("噪声", ["噪音", "噪声", "noise"]),
        ("街灯", ["路灯", "街灯", "streetlight", "street light"]),
        ("垃圾", ["垃圾", "废弃物", "rubbish", "garbage", "waste"]),
        ("garbage", ["垃圾", "废弃物", "rubbish", "garbage", "waste"]),
        ("厕所", ["厕所", "公厕", "公共厕所", "toilet"]),
        ("toilet", ["厕所", "公厕", "公共厕所", "toilet"]),
        ("学校", ["学校", "小学", "school"]),
    ]:
        qs.append(Query(q, "synonym", {"words": words}))
    # intent: understood kinds, places, categories, statuses and times
    for d in districts:
        qs.append(Query(f"{d.name}投诉", "intent", {"kind": ["case"], "area": d.name}))
        qs.append(Query(f"{d.name}图书馆", "intent", {"words": ["图书馆"], "area": d.name}))
    qs += [
        Query("噪音投诉", "intent", {"kind": ["case"], "category": "noise"}),
        Query("未处理工单", "intent", {"kind": ["case"], "state": "open"}),
        Query("已办结投诉", "intent", {"kind": ["case"], "state": "done"}),
        Query("PM2.5", "intent", {"kind": ["datastream"], "metric": "pm25"}),
        Query("最近三天投诉", "intent", {"kind": ["case"], "days": 3}),
        Query("noise complaints", "intent", {"kind": ["case"], "category": "noise"}),
        Query(f"{districts[0].name_en.split()[0]} complaints", "intent", {"kind": ["case"], "area": districts[0].name}),
    ]
    return qs


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** relevant.get(key, 0) - 1) / math.log2(i + 2) for i, key in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int = 20) -> float:
    """Recall of the top k, out of at most k relevant items (a query with 40 relevant items is
    perfect when its first 20 are all relevant)."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / min(len(relevant), k)


def evaluate(user, *, log=None) -> dict:
    """Run every query as `user`; returns {"queries", "by_type": {type: {"n", "ndcg@10", "recall@20"}}, "overall"}."""
    rows = _rows()
    areas = dict(Area.objects.values_list("name", "id"))
    queries = build_queries(rows)
    per: dict[str, list[tuple[float, float]]] = {}
    details = []
    for query in queries:
        query.relevant = judge(query, rows, areas)
        if not query.relevant:
            continue
        r = selectors.search(user=user, req=selectors.SearchRequest(q=query.q, page_size=20))
        ranked = [f"{x['kind']}:{x['id']}" for x in r["results"]]
        n, rec = ndcg_at(ranked, query.relevant), recall_at(ranked, query.relevant)
        per.setdefault(query.type, []).append((n, rec))
        details.append(
            {
                "q": query.q,
                "type": query.type,
                "ndcg@10": round(n, 3),
                "recall@20": round(rec, 3),
                "relevant": len(query.relevant),
            }
        )
        if log:
            log(f"{query.type:10} {n:.3f} {rec:.3f} {query.q}")
    by_type = {
        t: {
            "n": len(v),
            "ndcg@10": round(sum(a for a, _ in v) / len(v), 3),
            "recall@20": round(sum(b for _, b in v) / len(v), 3),
        }
        for t, v in sorted(per.items())
    }
    allv = [x for v in per.values() for x in v]
    overall = {
        "n": len(allv),
        "ndcg@10": round(sum(a for a, _ in allv) / len(allv), 3) if allv else 0.0,
        "recall@20": round(sum(b for _, b in allv) / len(allv), 3) if allv else 0.0,
    }
    return {"queries": details, "by_type": by_type, "overall": overall}
