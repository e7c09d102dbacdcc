"""Choosing the responsible department and officer, with an explanation kept on the case."""

from django.db.models import Count, Q

from cityos.roles import Role
from governance.models import OPEN_STATUSES, Case, Category, DispatchRule
from governance.services.location import area_chain_ids
from governance.services.refcache import RefCache

_category_parents = RefCache(lambda: dict(Category.objects.values_list("id", "parent_id")))


def category_ancestor_ids(category_id: int | None) -> list[int]:
    """The category and its parents, most specific first."""
    out: list[int] = []
    parents = _category_parents.get()
    while category_id is not None and category_id not in out:
        out.append(category_id)
        category_id = parents.get(category_id)
    return out


class DispatchIndex:
    """Rules and trees loaded once (a dispatch over many cases then costs no query for matching)."""

    def __init__(self):
        self.rules = list(DispatchRule.objects.filter(is_active=True).select_related("department", "category"))
        self.category_parent = dict(Category.objects.values_list("id", "parent_id"))
        self.category_default = dict(
            Category.objects.filter(default_department__isnull=False).values_list("id", "default_department_id")
        )
        self._area_chain: dict[int, list[int]] = {}
        # Officers' open-case counts per department, read once per index and kept current as this
        # index assigns: a batch (import, benchmark) costs one query per department, not per case.
        self._loads: dict[int, list[dict]] = {}

    def pick_officer(self, department_id: int) -> dict:
        if department_id not in self._loads:
            self._loads[department_id] = _officer_loads(department_id)
        officers = self._loads[department_id]
        if not officers:
            return {"assignee_id": None, "candidates": []}
        officers.sort(key=lambda o: (o["open_cases"], o["id"]))
        chosen = officers[0]
        out = {"assignee_id": chosen["id"], "candidates": [dict(o) for o in officers[:5]]}
        chosen["open_cases"] += 1
        return out

    def category_chain(self, category_id: int | None) -> list[int]:
        out: list[int] = []
        while category_id is not None and category_id not in out:
            out.append(category_id)
            category_id = self.category_parent.get(category_id)
        return out

    def area_chain(self, area_id: int | None) -> list[int]:
        if area_id is None:
            return []
        if area_id not in self._area_chain:
            self._area_chain[area_id] = area_chain_ids(area_id)
        return self._area_chain[area_id]

    def decide(self, *, category_id: int | None, area_id: int | None) -> dict:
        """{"department_id", "rule_id", "reason", "fallback"}: the most specific rule wins — category
        depth first (a rule on 噪音 beats one on its parent 环境), then area depth, then `order`."""
        cats, areas = self.category_chain(category_id), self.area_chain(area_id)
        best, best_key = None, None
        for rule in self.rules:
            if rule.category_id is not None and rule.category_id not in cats:
                continue
            if rule.area_id is not None and rule.area_id not in areas:
                continue
            cat_rank = cats.index(rule.category_id) if rule.category_id is not None else len(cats) + 1
            area_rank = areas.index(rule.area_id) if rule.area_id is not None else len(areas) + 1
            key = (cat_rank, area_rank, rule.order, rule.id)
            if best_key is None or key < best_key:
                best, best_key = rule, key
        if best is not None:
            return {
                "department_id": best.department_id,
                "rule_id": best.id,
                "fallback": False,
                "reason": f"rule #{best.id}: {best.category or '*'} × {best.area_id or '*'} → {best.department}",
            }
        for cid in cats:
            if cid in self.category_default:
                return {
                    "department_id": self.category_default[cid],
                    "rule_id": None,
                    "fallback": True,
                    "reason": f"no rule matched; default department of category #{cid}",
                }
        return {"department_id": None, "rule_id": None, "fallback": True, "reason": "no rule and no default department"}


def _officer_loads(department_id: int) -> list[dict]:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return list(
        User.objects.filter(department_id=department_id, is_active=True, role=Role.DEPARTMENT_OFFICER)
        .annotate(open_cases=Count("assigned_cases", filter=Q(assigned_cases__status__in=OPEN_STATUSES)))
        .order_by("open_cases", "id")
        .values("id", "username", "open_cases")[:50]
    )


def officer_pick(*, department_id: int) -> dict:
    """Load balancing: the active officer of the department with the fewest open cases (ties: lowest id)."""
    officers = _officer_loads(department_id)
    if not officers:
        return {"assignee_id": None, "candidates": []}
    return {"assignee_id": officers[0]["id"], "candidates": officers[:5]}


def dispatch_decide(*, case: Case, index: DispatchIndex | None = None, balance: bool = True) -> dict:
    fresh = index is None
    index = index or DispatchIndex()
    decision = index.decide(category_id=case.category_id, area_id=case.area_id or case.district_id)
    decision["assignee_id"] = None
    if decision["department_id"] and balance:
        if fresh:
            pick = officer_pick(department_id=decision["department_id"])
        else:
            pick = index.pick_officer(decision["department_id"])
        decision["assignee_id"] = pick["assignee_id"]
        decision["candidates"] = pick["candidates"]
        if pick["assignee_id"]:
            decision["reason"] += f"; officer with fewest open cases ({pick['candidates'][0]['open_cases']})"
    return decision
