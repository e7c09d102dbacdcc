"""Demo city step: monitoring rules, an escalation chain and a few alerts to look at."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from cityos.roles import Role
from datahub.models import Alert, AlertRule, Area, Department, EscalationLevel, EscalationPolicy
from datahub.monitoring.services import alerts, rules

RULES = [
    # name, kind, metric, severity, params, open_case (the case's category code, or False)
    (
        "PM2.5 高于 150 持续 2 小时",
        "threshold",
        "pm25",
        "major",
        {
            "op": ">",
            "threshold": 150,
            "duration_s": 7200,
            "clear_threshold": 100,
            "clear_duration_s": 3600,
            "max_gap_s": 3600,
        },
        "air",
    ),
    (
        "PM2.5 骤升",
        "rate_of_change",
        "pm25",
        "warning",
        {"rate_per_hour": 80, "clear_rate_per_hour": 20, "direction": "rise", "min_span_s": 1800},
        False,
    ),
    ("空气监测站离线", "no_data", "pm25", "minor", {"timeout_s": 3 * 3600}, False),
    ("PM2.5 同时段异常", "anomaly", "pm25", "info", {"z": 3.5, "clear_z": 1.5, "utc_offset_s": 28800}, False),
    (
        "一小时内噪声投诉 ≥ 20 起",
        "event_count",
        "",
        "major",
        {"event_type": "complaint.noise", "window_s": 3600, "count": 20, "clear_count": 10},
        "noise",
    ),
]


def build_monitoring(ctx) -> None:
    env = Department.objects.get(code="ecology-environment")
    city_area = Area.objects.filter(level="city").order_by("code").first()
    created = {}
    for name, kind, metric, severity, params, open_case in RULES:
        rule, _ = AlertRule.objects.update_or_create(
            name=name,
            defaults={
                "kind": kind,
                "metric": metric,
                "severity": severity,
                "params": params,
                "department": env,
                "open_case": bool(open_case),
                "case_category": open_case or "",
                "area": city_area if kind == "event_count" else None,
            },
        )
        created[kind] = rule
    rules.rules_changed()
    policy, _ = EscalationPolicy.objects.update_or_create(department=env, defaults={"repeat_minutes": 30})
    User = get_user_model()
    level1, _ = EscalationLevel.objects.update_or_create(policy=policy, level=1, defaults={"after_minutes": 15})
    level1.users.set(User.objects.filter(username="envofficer"))
    EscalationLevel.objects.update_or_create(
        policy=policy, level=2, defaults={"after_minutes": 30, "roles": [Role.CITY_LEADER]}
    )
    if Alert.objects.filter(rule__in=created.values()).exists():
        return  # alerts only on the first run: the step is idempotent
    now = timezone.now()
    streets = list(Area.objects.filter(level="street").order_by("code")[:3])
    for i, street in enumerate(streets):
        alerts.alert_raise(
            rule=created["threshold"],
            subject_key=f"demo:air-{i + 1}",
            at=now - timedelta(hours=2 + i),
            value=round(150 + ctx.rng.random() * 120, 1),
            area_id=street.id,
        )
    if streets:
        alerts.alert_raise(
            rule=created["event_count"],
            subject_key=f"area:{streets[0].id}",
            at=now - timedelta(minutes=20),
            value=23.0,
            area_id=streets[0].id,
        )
