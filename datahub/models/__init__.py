from .core import Area, Department, Entity, EntityIdentifier, Event, Run, Source
from .monitoring import (
    Alert,
    AlertComment,
    AlertHistory,
    AlertRule,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "Alert",
    "AlertComment",
    "AlertHistory",
    "AlertRule",
    "Area",
    "Department",
    "Entity",
    "EntityIdentifier",
    "EscalationLevel",
    "EscalationPolicy",
    "Event",
    "Notification",
    "NotificationPreference",
    "Run",
    "Source",
    "WebhookDelivery",
    "WebhookEndpoint",
]
