from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from cityos.realtime import BROADCAST_GROUP
from datahub.iot.services import ingest as iot_ingest
from tests.datahub.iot.factories import make_device

pytestmark = pytest.mark.django_db(transaction=True)


def values_until(layer, channel, ds: int, value: float) -> list[float]:
    """Values pushed for `ds` up to and including `value` (other processes may share the group)."""
    seen = []
    while True:
        msg = async_to_sync(layer.receive)(channel)
        if msg.get("event") == "datahub.observations" and str(ds) in msg["data"]["latest"]:
            seen.append(msg["data"]["latest"][str(ds)][1])
            if seen[-1] == value:
                return seen


def test_it_broadcasts_new_latest_values_to_open_pages(monkeypatch):
    _, s, _ = make_device()
    ds = s["pm25"].id
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(BROADCAST_GROUP, channel)  # what each open page's socket joins
    monkeypatch.setattr(iot_ingest, "_last_broadcast", 0.0)
    t = datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()
    try:
        iot_ingest.observations_store(rows=[(ds, t, 42.0)])
        assert values_until(layer, channel, ds, 42.0) == [42.0]
    finally:
        async_to_sync(layer.group_discard)(BROADCAST_GROUP, channel)
