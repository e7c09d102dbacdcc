"""Alert -> governance case, and back: the case's closure links and (optionally) clears the alert."""

from __future__ import annotations

import logging

from datahub.monitoring.models import Alert
from datahub.monitoring.services.alerts import alert_clear, alert_link_case

log = logging.getLogger(__name__)

# The case categories an alert rule may name, as [(code, label)], provided by the app that handles
# cases (governance registers it in ready()): the datahub imports no app.
_category_provider = None


def case_categories_register(provider) -> None:
    """Register `provider() -> [(code, label), …]`: the categories a rule's case may take."""
    global _category_provider
    _category_provider = provider


def case_categories() -> list[tuple[str, str]]:
    """[(code, label)] of the case categories, or [] when no app registered them."""
    if _category_provider is None:
        return []
    try:
        return list(_category_provider())
    except Exception:  # the rule forms still work (the code is checked again when the case opens)
        log.exception("case category provider failed")
        return []


def case_category_validate(code: str) -> str:
    """The code, stripped; RuleParamError naming `case_category` if it is not a known category."""
    from datahub.monitoring.services.evaluators import RuleParamError

    code = (code or "").strip()
    if not code:
        return ""
    known = case_categories()
    if known and code not in {c for c, _label in known}:
        raise RuleParamError(f"case_category: unknown case category {code!r}")
    return code


def on_case_closed(payload: dict) -> None:
    """A case closed (reached through `facade.origin_case_closed`, which the app handling cases subscribes).

    Payload {"case_id", "tracking_number", "origin": {"kind": "alert", "id": <id>}, ...}: the
    publisher's structured origin; cases of other origins are ignored. Links the alert to its
    case, and clears it if its rule says so.
    """
    origin = payload.get("origin")
    if not isinstance(origin, dict) or origin.get("kind") != "alert":
        return
    try:
        alert_id = int(origin.get("id"))
    except (TypeError, ValueError):
        log.warning("closed case with a bad origin %r", origin)
        return
    alert = Alert.objects.select_related("rule").filter(id=alert_id).first()
    if alert is None:
        return
    alert_link_case(
        alert=alert, case_id=payload.get("case_id"), tracking_number=str(payload.get("tracking_number") or "")
    )
    if alert.rule.clear_on_case_close and alert.status == Alert.Status.ACTIVE:
        alert_clear(alert=alert, reason="case_closed")
