"""Alert rules: create / update / delete (validated), and the process-wide compiled rule index.

The index is rebuilt when the rule set's version in Redis changes: every write bumps it after
commit, so every ingest process sees a new rule within one batch, at the cost of one Redis GET
per batch when nothing changed.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict

import redis
from django.conf import settings
from django.db import transaction

from datahub.core.models import Area
from datahub.iot.models import Datastream
from datahub.monitoring.models import AlertRule
from datahub.monitoring.services import engine
from datahub.monitoring.services import evaluators as ev
from datahub.monitoring.services.cases import case_category_validate

_lock = threading.Lock()
_index: engine.RuleIndex | None = None
_clients: dict[str, redis.Redis] = {}

SERIES_KINDS = {"threshold", "rate_of_change", "no_data", "anomaly"}
# The fields of a rule its editors set (the API, this service and the rule form share this list).
RULE_FIELDS = [
    "name",
    "description",
    "kind",
    "params",
    "severity",
    "metric",
    "device_type",
    "area",
    "subject",
    "datastream",
    "department",
    "open_case",
    "case_category",
    "clear_on_case_close",
    "is_active",
]
RULE_FOREIGN_KEYS = {"area", "subject", "datastream", "department"}
EDITABLE = [f"{name}_id" if name in RULE_FOREIGN_KEYS else name for name in RULE_FIELDS]


def redis_client() -> redis.Redis:
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url)
    return client


def key(name: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'cityos')}:mon:{name}"


def area_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for area_id, parent_id in Area.objects.values_list("id", "parent_id"):
        if parent_id:
            children[parent_id].append(area_id)
    return children


def rule_validate(*, kind: str, params: dict, metric: str = "", datastream_id: int | None = None) -> dict:
    """Checks a rule's kind, parameters and scope; returns the cleaned parameters.

    Raises evaluators.RuleParamError with a message naming the bad field.
    """
    if kind not in AlertRule.Kind.values:
        raise ev.RuleParamError(f"kind must be one of {', '.join(AlertRule.Kind.values)}")
    if kind == "event_count":
        if datastream_id is not None:
            raise ev.RuleParamError("datastream: an event-count rule watches the event log, not a datastream")
        return ev.event_count_params(params)
    ev.build(kind, params)
    if kind in SERIES_KINDS and not metric:
        raise ev.RuleParamError("metric is required for a series rule (e.g. pm25)")
    if kind in SERIES_KINDS and datastream_id is not None:
        # Rules are indexed by metric first: one scoped to a datastream of another metric would
        # silently never fire.
        ds_metric = Datastream.objects.filter(id=datastream_id).values_list("metric", flat=True).first()
        if ds_metric is None:
            raise ev.RuleParamError(f"datastream: no datastream with id {datastream_id}")
        if ds_metric != metric:
            raise ev.RuleParamError(f"metric: datastream {datastream_id} measures {ds_metric}, not {metric}")
    return params


def datastream_metric(datastream_id: int | None) -> str:
    """The metric of a datastream ("" if none): fills a rule's empty metric from its datastream."""
    if datastream_id is None:
        return ""
    return Datastream.objects.filter(id=datastream_id).values_list("metric", flat=True).first() or ""


def rules_changed() -> None:
    """Tell every process to recompile its rule index (after commit).

    The version is a random token, not a counter: after a Redis restart a counter would start
    again at 1 and could equal a version some process still holds, hiding a rule change from it.
    """
    transaction.on_commit(_new_version)


def _new_version() -> None:
    redis_client().set(key("rules:version"), uuid.uuid4().hex)


def rule_create(
    *, name: str, kind: str, params: dict, severity: str = "warning", created_by=None, **fields
) -> AlertRule:
    fields = {k: v for k, v in fields.items() if k in EDITABLE or k == "notify_user_ids"}
    notify = fields.pop("notify_user_ids", None)
    if fields.get("datastream_id") is not None and not fields.get("metric") and kind in SERIES_KINDS:
        fields["metric"] = datastream_metric(fields["datastream_id"])
    params = rule_validate(
        kind=kind, params=params, metric=fields.get("metric", ""), datastream_id=fields.get("datastream_id")
    )
    if "case_category" in fields:
        fields["case_category"] = case_category_validate(fields["case_category"])
    rule = AlertRule.objects.create(
        name=name, kind=kind, params=params, severity=severity, created_by=created_by, **fields
    )
    if notify:
        rule.notify_users.set(notify)
    rules_changed()
    return rule


def rule_update(*, rule: AlertRule, **fields) -> AlertRule:
    notify = fields.pop("notify_user_ids", None)
    for name, value in fields.items():
        if name not in EDITABLE:
            raise ev.RuleParamError(f"{name} is not an editable field")
        setattr(rule, name, value)
    if rule.datastream_id is not None and not rule.metric and rule.kind in SERIES_KINDS:
        rule.metric = datastream_metric(rule.datastream_id)
    rule.params = rule_validate(
        kind=rule.kind, params=rule.params, metric=rule.metric, datastream_id=rule.datastream_id
    )
    rule.case_category = case_category_validate(rule.case_category)
    # A new revision: evaluation state is keyed by it, so changed parameters start fresh.
    rule.revision += 1
    rule.save()
    if notify is not None:
        rule.notify_users.set(notify)
    rules_changed()
    return rule


def rule_delete(*, rule: AlertRule) -> None:
    rule.delete()
    rules_changed()


def _load(version: str) -> engine.RuleIndex:
    children = area_children()
    rows = AlertRule.objects.filter(is_active=True).values(
        "id",
        "revision",
        "kind",
        "severity",
        "params",
        "metric",
        "device_type",
        "area_id",
        "subject_id",
        "datastream_id",
        "name",
    )
    series, event_rules = [], []
    for row in rows:
        try:
            if row["kind"] == "event_count":
                params = ev.event_count_params(row["params"])
                area_ids = engine.descendants(row["area_id"], children) if row["area_id"] else None
                event_rules.append({**row, "params": params, "area_ids": area_ids})
            else:
                series.append(engine.compile_rule(row, children, horizon_s=settings.MONITORING_LIVE_HORIZON_S))
        except ev.RuleParamError:
            continue  # saved through admin with bad parameters: skipped, the rule page shows the error
    index = engine.RuleIndex(series, version)
    index.event_rules = event_rules
    return index


def rule_index() -> engine.RuleIndex:
    """The compiled index of active rules, rebuilt when a rule changed (any process)."""
    global _index
    raw = redis_client().get(key("rules:version"))
    version = raw.decode() if raw else "0"
    current = _index
    if current is not None and current.version == version:
        return current
    with _lock:
        if _index is None or _index.version != version:
            _index = _load(version)
        return _index


def rule_index_reset() -> None:
    """Forget the compiled index (tests; an admin change made outside the services)."""
    global _index
    _index = None
    _new_version()
