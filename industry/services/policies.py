"""Policies, their criteria (validated: an unknown indicator or industry code is refused), the
proposal of criteria from a policy's text, and 免申即享 grant decisions."""

import math
import re

from django.db import transaction
from django.utils import timezone

from cityos import bus
from datahub import facade
from industry.models import Criterion, Enterprise, Grant, IndustryCode, Metric, Notice, Park, Policy, Tag

from .common import event_dict
from .errors import IndustryError

MAX_CRITERIA = 30
MAX_NUMBER = 1e12


def _err(index: int, field: str, message: str) -> IndustryError:
    return IndustryError(f"criteria[{index}].{field}: {message}", extra={"field": f"criteria[{index}].{field}"})


def criteria_validate(criteria: list[dict]) -> list[dict]:
    """Check and normalise criteria dicts; raises IndustryError naming `criteria[i].field`."""
    if not isinstance(criteria, list):
        raise IndustryError("criteria: must be a list", extra={"field": "criteria"})
    if len(criteria) > MAX_CRITERIA:
        raise IndustryError(f"criteria: at most {MAX_CRITERIA}", extra={"field": "criteria"})
    codes = set(IndustryCode.objects.values_list("code", flat=True))
    tags = set(Tag.objects.values_list("code", flat=True))
    out = []
    for i, raw in enumerate(criteria):
        if not isinstance(raw, dict):
            raise _err(i, "kind", "each criterion must be an object")
        kind = raw.get("kind")
        if kind not in Criterion.Kind.values:
            raise _err(i, "kind", f"unknown kind {kind!r} (one of {', '.join(Criterion.Kind.values)})")
        c = {
            "kind": kind,
            "position": i,
            "codes": [],
            "area_id": None,
            "park_id": None,
            "metric": "",
            "measure": "",
            "op": "",
            "number": None,
        }
        vals = raw.get("codes") or []
        if not isinstance(vals, list) or not all(isinstance(v, str) for v in vals):
            raise _err(i, "codes", "must be a list of strings")
        vals = [v.strip() for v in vals if v.strip()][:200]
        if kind in ("industry", "size", "tag", "licence") and not vals:
            raise _err(i, "codes", "at least one code is required")
        if kind == "industry":
            vals = [v.upper() for v in vals]
            bad = [v for v in vals if v not in codes]
            if bad:
                raise _err(i, "codes", f"unknown GB/T 4754-2017 industry code {bad[0]!r}")
        elif kind == "size":
            bad = [v for v in vals if v not in Enterprise.Size.values]
            if bad:
                raise _err(i, "codes", f"unknown size {bad[0]!r} (one of {', '.join(Enterprise.Size.values)})")
        elif kind == "tag":
            bad = [v for v in vals if v not in tags]
            if bad:
                raise _err(i, "codes", f"unknown tag {bad[0]!r}")
        c["codes"] = [v[:100] for v in vals]
        if kind == "area":
            area_id = raw.get("area_id", raw.get("area"))
            if not isinstance(area_id, int) or facade.area_get(id=area_id) is None:
                raise _err(i, "area_id", f"unknown area {area_id!r}")
            c["area_id"] = area_id
        if kind == "park":
            park_id = raw.get("park_id", raw.get("park"))
            if not isinstance(park_id, int) or not Park.objects.filter(id=park_id).exists():
                raise _err(i, "park_id", f"unknown park {park_id!r}")
            c["park_id"] = park_id
        if kind in ("age", "indicator"):
            op = raw.get("op") or "gte"
            if op not in Criterion.Op.values:
                raise _err(i, "op", "must be gte or lte")
            number = raw.get("number")
            if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
                raise _err(i, "number", "a number is required")
            if abs(number) > MAX_NUMBER:
                raise _err(i, "number", "out of range")
            c["op"], c["number"] = op, float(number)
        if kind == "indicator":
            metric = raw.get("metric")
            if metric not in Metric.values:
                raise _err(i, "metric", f"unknown indicator {metric!r} (one of {', '.join(Metric.values)})")
            measure = raw.get("measure") or "value"
            if measure not in Criterion.Measure.values:
                raise _err(i, "measure", "must be value or growth")
            c["metric"], c["measure"] = metric, measure
        out.append(c)
    return out


def policy_save(*, policy_id: int | None = None, actor=None, criteria: list[dict] | None = None, **fields) -> Policy:
    """Create or update a policy (and replace its criteria when given); re-matches after commit."""
    crit = criteria_validate(criteria) if criteria is not None else None
    if fields.get("valid_from") and fields.get("valid_to") and fields["valid_to"] < fields["valid_from"]:
        raise IndustryError("valid_to: before valid_from", extra={"field": "valid_to"})
    with transaction.atomic():
        if policy_id is None:
            if Policy.objects.filter(code=fields.get("code")).exists():
                raise IndustryError(f"code: policy {fields.get('code')!r} exists", status=409, extra={"field": "code"})
            policy = Policy.objects.create(**fields)
            action = "created"
        else:
            policy = Policy.objects.select_for_update().get(id=policy_id)
            for k, v in fields.items():
                setattr(policy, k, v)
            policy.save()
            action = "updated"
        if crit is not None:
            policy.criteria.all().delete()
            Criterion.objects.bulk_create(
                [
                    Criterion(
                        policy=policy,
                        area_ids=facade.area_subtree_ids(area_id=c["area_id"]) if c["area_id"] else [],
                        **c,
                    )
                    for c in crit
                ]
            )
        facade.event_record(
            type=f"industry.policy_{action}",
            actor_id=actor.id if actor is not None and actor.is_authenticated else None,
            object_ref=f"industry:policy:{policy.id}",
            payload={"code": policy.code, "status": policy.status},
        )
        bus.publish("industry.policy_changed", {"policy_id": policy.id, "action": action})
        from industry.tasks import queue_rematch

        queue_rematch(policy_ids=[policy.id])
    return policy


def grants_decide(*, grant_ids: list[int], decision: str, actor, note: str = "") -> dict:
    """Confirm (or reject) proposed grants in bulk; each enterprise is notified. Returns
    {"done": [ids], "failed": {id: reason}}; grants already decided are reported, not changed."""
    if decision not in ("confirm", "reject"):
        raise IndustryError("decision: must be confirm or reject", extra={"field": "decision"})
    status = Grant.Status.CONFIRMED if decision == "confirm" else Grant.Status.REJECTED
    now = timezone.now()
    with transaction.atomic():
        grants = list(
            Grant.objects.select_for_update(of=("self",))
            .filter(id__in=grant_ids)
            .select_related("policy", "enterprise")
        )
        found = {g.id: g for g in grants}
        failed = {str(i): "not found" for i in grant_ids if i not in found}
        todo = []
        for g in grants:
            if g.status != Grant.Status.PROPOSED:
                failed[str(g.id)] = f"already {g.status}"
            else:
                todo.append(g)
        ids = [g.id for g in todo]
        Grant.objects.filter(id__in=ids).update(status=status, decided_by=actor, decided_at=now, note=note[:300])
        if status == Grant.Status.CONFIRMED:
            Notice.objects.bulk_create(
                [
                    Notice(
                        enterprise=g.enterprise,
                        title=f"您已获得政策“{g.policy.title}”的支持（免申即享）",
                        title_en=f"You have been granted “{g.policy.title_en or g.policy.title}” (no application needed)",
                        body=g.policy.benefit,
                    )
                    for g in todo
                ]
            )
        facade.event_record_many(
            events=[
                event_dict(
                    type=f"industry.grant_{'confirmed' if decision == 'confirm' else 'rejected'}",
                    enterprise=g.enterprise,
                    actor_id=actor.id if actor is not None else None,
                    payload={"grant_id": g.id, "policy_id": g.policy_id},
                    object_ref=f"industry:grant:{g.id}",
                )
                for g in todo
            ]
        )
        for g in todo:
            bus.publish(
                "industry.grant_decided",
                {"grant_id": g.id, "enterprise_id": g.enterprise_id, "policy_id": g.policy_id, "status": status},
            )
    return {"done": ids, "failed": failed}


def grant_apply(*, policy_id: int, enterprise_id: int, actor) -> Grant:
    """An enterprise user applies for a policy it matches (not automatic ones: those come alone)."""
    from industry.models import Match

    policy = Policy.objects.filter(id=policy_id, status=Policy.Status.ACTIVE).first()
    if policy is None:
        raise IndustryError("policy: not an active policy", status=404, extra={"field": "policy"})
    if not Match.objects.filter(policy_id=policy_id, enterprise_id=enterprise_id).exists():
        raise IndustryError("policy: your enterprise does not meet this policy's criteria", extra={"field": "policy"})
    with transaction.atomic():
        grant, created = Grant.objects.get_or_create(
            policy=policy,
            enterprise_id=enterprise_id,
            defaults={"origin": Grant.Origin.APPLICATION, "amount": policy.amount},
        )
        if not created:
            raise IndustryError("policy: already applied or granted", status=409, extra={"existing_id": grant.id})
        ent = Enterprise.objects.get(id=enterprise_id)
        facade.event_record_many(
            events=[
                event_dict(
                    type="industry.grant_applied", enterprise=ent, actor_id=actor.id, payload={"policy_id": policy_id}
                )
            ]
        )
    return grant


# --- criteria proposal from text (jieba + patterns) -----------------------------------------------

_NUM = r"(\d+(?:\.\d+)?)"
_GE = r"(?:不低于|不少于|达到|超过|高于|以上|≥|>=|至少)?"
_METRIC_WORDS = [
    ("revenue", r"(?:营业收入|主营业务收入|营收|销售收入)"),
    ("tax", r"(?:纳税|税收|缴纳税款)"),
    ("output", r"(?:产值|工业总产值)"),
    ("exports", r"(?:出口额|出口)"),
    ("energy", r"(?:能耗|综合能源消费量)"),
]
_SIZE_WORDS = {
    "小微企业": ["micro", "small"],
    "中小企业": ["small", "medium"],
    "大型企业": ["large"],
    "中型企业": ["medium"],
    "小型企业": ["small"],
    "微型企业": ["micro"],
}
_EN = [
    (re.compile(r"revenue growth (?:of )?(?:at least |≥ ?)?" + _NUM + r" ?%", re.I), "revenue", "growth"),
    (re.compile(r"tax growth (?:of )?(?:at least |≥ ?)?" + _NUM + r" ?%", re.I), "tax", "growth"),
]


def criteria_propose(*, text: str) -> list[dict]:
    """Criteria a policy text suggests, each with `evidence` (the words it came from), for an
    officer to confirm. jieba finds industry and tag words; patterns find amounts, percentages,
    ages; the gazetteer finds areas."""
    import jieba

    text = (text or "")[:20000]
    out: list[dict] = []
    for metric, words in _METRIC_WORDS:
        m = re.search(words + r"[^。；;，,]{0,8}?(?:增长|增幅|增速)(?:率)?" + _GE + r"\s*" + _NUM + r"\s*[%％]", text)
        if m:
            out.append(
                {
                    "kind": "indicator",
                    "metric": metric,
                    "measure": "growth",
                    "op": "gte",
                    "number": float(m.group(1)),
                    "evidence": m.group(0),
                }
            )
            continue
        m = re.search(words + r"[^。；;，,]{0,8}?" + _GE + r"\s*" + _NUM + r"\s*(万元|亿元|万)", text)
        if m:
            n = float(m.group(1)) * (10000 if m.group(2) == "亿元" else 1)
            out.append(
                {
                    "kind": "indicator",
                    "metric": metric,
                    "measure": "value",
                    "op": "gte",
                    "number": n,
                    "evidence": m.group(0),
                }
            )
    for rx, metric, measure in _EN:
        m = rx.search(text)
        if m and not any(c.get("metric") == metric for c in out):
            out.append(
                {
                    "kind": "indicator",
                    "metric": metric,
                    "measure": measure,
                    "op": "gte",
                    "number": float(m.group(1)),
                    "evidence": m.group(0),
                }
            )
    m = re.search(r"(?:从业人员|员工|职工)[^。；;，,]{0,6}?" + _GE + r"\s*" + _NUM + r"\s*人", text)
    if m:
        out.append(
            {
                "kind": "indicator",
                "metric": "employees",
                "measure": "value",
                "op": "gte",
                "number": float(m.group(1)),
                "evidence": m.group(0),
            }
        )
    m = re.search(r"成立(?:时间)?(?:不满|不超过|未满|不足)\s*" + _NUM + r"\s*年", text)
    if m:
        out.append({"kind": "age", "op": "lte", "number": float(m.group(1)), "evidence": m.group(0)})
    else:
        m = re.search(r"成立(?:时间)?(?:满|超过|已满)\s*" + _NUM + r"\s*年", text)
        if m:
            out.append({"kind": "age", "op": "gte", "number": float(m.group(1)), "evidence": m.group(0)})
    tokens = set(jieba.lcut(text))
    tag_codes, tag_ev = [], []
    for tag in Tag.objects.all():
        short = tag.name.removesuffix("企业")
        if tag.name in text or short in tokens or short in text:
            tag_codes.append(tag.code)
            tag_ev.append(tag.name)
    if tag_codes:
        out.append({"kind": "tag", "codes": tag_codes, "evidence": "、".join(tag_ev)})
    ind_codes, ind_ev = [], []
    for ic in IndustryCode.objects.order_by("-level", "code"):  # divisions before sections
        stem = ic.name.removesuffix("业") if len(ic.name) > 3 else ic.name
        if ic.name in text or (len(stem) >= 2 and stem in tokens):
            if not any(c == (ic.parent.code if ic.parent_id else None) for c in ind_codes):
                ind_codes.append(ic.code)
                ind_ev.append(ic.name)
    if ind_codes:
        out.append({"kind": "industry", "codes": ind_codes[:10], "evidence": "、".join(ind_ev[:10])})
    sizes: list[str] = []
    for word, codes in _SIZE_WORDS.items():
        if word in text:
            sizes += [c for c in codes if c not in sizes]
    if sizes:
        out.append({"kind": "size", "codes": sizes, "evidence": "、".join(w for w in _SIZE_WORDS if w in text)})
    for area in facade.area_match_text(text=text)[:3]:
        if area.level in ("district", "street", "city"):
            out.append({"kind": "area", "area_id": area.id, "evidence": area.name})
    if "无违法" in text or "无重大违法" in text or "no violations" in text.lower():
        out.append({"kind": "no_violations", "evidence": "无违法违规记录"})
    return out
