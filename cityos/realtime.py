"""Push live events to users' open pages through the Redis channel layer.

Call these from services (after commit) or Celery tasks; the consumer in cityos.consumers
forwards them to the browser as JSON.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

BROADCAST_GROUP = "live.broadcast"


def user_group(user_id: int) -> str:
    return f"live.user.{user_id}"


def department_group(department_id: int) -> str:
    return f"live.dept.{department_id}"


def _send(group: str, event_type: str, data: dict) -> None:
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(group, {"type": "live.event", "event": event_type, "data": data})


def publish_to_user(user_id: int, event_type: str, data: dict) -> None:
    _send(user_group(user_id), event_type, data)


def publish_to_department(department_id: int, event_type: str, data: dict) -> None:
    _send(department_group(department_id), event_type, data)


def publish_broadcast(event_type: str, data: dict) -> None:
    _send(BROADCAST_GROUP, event_type, data)


def publish_to_group(group: str, event_type: str, data: dict) -> None:
    """Push to any named group (e.g. the public portal's `livelihood.portal`)."""
    _send(group, event_type, data)
