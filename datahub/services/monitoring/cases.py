"""Alert -> governance case, and back: the case's closure links and (optionally) clears the alert."""

from __future__ import annotations

import logging

from datahub.models import Alert

from .alerts import alert_clear, alert_link_case

log = logging.getLogger(__name__)


def on_case_closed(payload: dict) -> None:
    """Bus handler for "governance.case_closed".

    Payload {"case_id", "tracking_number", "origin", "origin_ref": "alert:<id>"}; cases of other
    origins are ignored. Links the alert to its case, and clears it if its rule says so.
    """
    ref = str(payload.get("origin_ref") or "")
    if not ref.startswith("alert:"):
        return
    try:
        alert_id = int(ref.split(":", 1)[1])
    except ValueError:
        log.warning("governance.case_closed with a bad origin_ref %r", ref)
        return
    alert = Alert.objects.select_related("rule").filter(id=alert_id).first()
    if alert is None:
        return
    alert_link_case(
        alert=alert, case_id=payload.get("case_id"), tracking_number=str(payload.get("tracking_number") or "")
    )
    if alert.rule.clear_on_case_close and alert.status == Alert.Status.ACTIVE:
        alert_clear(alert=alert, reason="case_closed")
