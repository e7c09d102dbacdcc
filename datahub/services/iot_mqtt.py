"""The MQTT bridge: Mosquitto `cityos/<device key>/telemetry` -> observations, nothing lost.

Delivery contract: QoS 1 on a persistent session (MQTT 5 clean_start=False + session expiry; a
fixed client id) and
manual acknowledgement. A message is acknowledged (PUBACK) only after the batch holding it is
committed, so a bridge killed at any moment loses nothing: the broker redelivers everything
not yet acknowledged, and the first-write-wins store turns those redeliveries into duplicates
that are ignored. Messages are batched: a flush every `flush_interval_s` (200 ms) or
`batch_size` messages, whichever comes first; one COPY + INSERT … ON CONFLICT per flush.

Payload: a JSON object of metric values with an optional `ts` (ISO 8601 or epoch seconds), or a
list of such objects. Malformed messages are acknowledged (a resend cannot fix them) and counted
as rejected with their reason in the ingest monitor.
"""

import json
import logging
import signal
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from django.db import close_old_connections
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from datahub.models import IngestBatch

from .iot_ingest import MAX_ERRORS_LISTED, DatastreamResolver, _parse_value, observations_store, parse_time
from .iot_lineage import mqtt_session_run_start
from .runs import run_finish, run_progress

log = logging.getLogger(__name__)

TOPIC = "cityos/+/telemetry"
# The session Run's counts are written at most this often: the bridge flushes 5 times a second,
# the run page needs no more than a figure every few seconds.
RUN_PROGRESS_EVERY_S = 5.0


@dataclass
class BridgeStats:
    messages: int = 0
    readings: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    flushes: int = 0
    connects: int = 0
    errors: list = field(default_factory=list)


class MqttBridge:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str = "cityos-mqtt-bridge",
        topic: str = TOPIC,
        batch_size: int = 5000,
        flush_interval_s: float = 0.2,
        keepalive: int = 30,
        receive_maximum: int = 20000,
        session_expiry_s: int = 7 * 24 * 3600,
    ):
        self.session_expiry_s = session_expiry_s
        self.host, self.port, self.topic = host, port, topic
        self.batch_size, self.flush_interval_s, self.keepalive = batch_size, flush_interval_s, keepalive
        self.stats = BridgeStats()
        self.resolver = DatastreamResolver()
        # Lineage: one Run per bridge session (opened on the first flush or at start, finished on stop).
        self.source_id: int | None = None
        self.run_id: int | None = None
        self._run_reported = 0.0
        self._buf: list[tuple[int, int, str, bytes, int]] = []  # (generation, mid, topic, payload, qos)
        self._cond = threading.Condition()
        self._generation = 0
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        # MQTT 5 for its Receive Maximum: the broker never has more than `receive_maximum`
        # messages unacknowledged towards us. (With 3.1.1, Mosquitto 2.0.11 ignored
        # max_inflight_messages while a slow commit held the acks: 135,000 messages arrived,
        # 16-bit packet ids wrapped around, and the session stalled.) The persistent session is
        # clean_start=False with a session expiry of 7 days (3.1.1's clean_session=False).
        self.receive_maximum = min(receive_maximum, 65535)
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        # Reconnect fast after a broker restart: retry after 1 s, then every 2 s at most.
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # --- network thread -----------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.warning("MQTT connect refused: %s", reason_code)
            return
        with self._cond:
            # Messages received on an earlier connection are stored but never acknowledged:
            # their packet ids belong to the old connection (the broker redelivers them).
            self._generation += 1
        self.stats.connects += 1
        # Resubscribing is harmless with a resumed session and needed with a fresh one.
        client.subscribe(self.topic, qos=1)
        self.connected.set()
        log.info("MQTT bridge connected to %s:%s (session present: %s)", self.host, self.port, flags.session_present)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self.subscribed.set()
        log.info("MQTT bridge subscribed to %s (%s)", self.topic, [str(rc) for rc in reason_codes])

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("MQTT bridge disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg):
        with self._cond:
            self._buf.append((self._generation, msg.mid, msg.topic, msg.payload, msg.qos))
            if len(self._buf) >= self.batch_size:
                self._cond.notify()

    # --- flushing (main thread) ------------------------------------------------------------------
    def _rows(self, batch) -> tuple[list, int, list[dict]]:
        """Messages -> (rows, readings received, errors). One fast path, no per-reading dicts."""
        keys = set()
        decoded = []
        errors: list[dict] = []
        received = 0
        now = time.time()
        for i, (_gen, _mid, topic, payload, _qos) in enumerate(batch):
            parts = topic.split("/")
            key = parts[1] if len(parts) == 3 else ""
            try:
                data = json.loads(payload)
            except ValueError:
                received += 1
                errors.append({"index": i, "field": None, "reason": f"{topic}: payload is not JSON"})
                continue
            keys.add(key)
            decoded.append((i, key, data))
        self.resolver.load(device_keys=keys)
        by_key, rows = self.resolver.by_key, []
        for i, key, data in decoded:
            items = data if isinstance(data, list) else [data]
            for item in items:
                if not isinstance(item, dict):
                    errors.append(
                        {"index": i, "field": None, "reason": f"device {key}: telemetry must be a JSON object"}
                    )
                    continue
                raw_ts = item.get("ts")
                try:
                    t = now if raw_ts is None else parse_time(raw_ts)
                except ValueError as exc:
                    received += 1
                    errors.append({"index": i, "field": "ts", "reason": f"device {key}: {exc}"})
                    continue
                for metric, value in item.items():
                    if metric == "ts":
                        continue
                    received += 1
                    ds = by_key.get((key, metric))
                    if ds is None:
                        errors.append(
                            {"index": i, "field": "metric", "reason": f"device {key}: unknown metric {metric!r}"}
                        )
                        continue
                    try:
                        v = _parse_value(value)
                    except ValueError as exc:
                        errors.append({"index": i, "field": metric, "reason": f"device {key}: {exc}"})
                        continue
                    if (ds[1] is not None and v < ds[1]) or (ds[2] is not None and v > ds[2]):
                        errors.append(
                            {"index": i, "field": metric, "reason": f"device {key}: {v} outside [{ds[1]}, {ds[2]}]"}
                        )
                        continue
                    rows.append((ds[0], t, v))
        return rows, received, errors

    def flush(self) -> int:
        with self._cond:
            batch, self._buf = self._buf, []
            generation = self._generation
        if not batch:
            return 0
        rows, received, errors = self._rows(batch)
        while True:
            try:
                close_old_connections()
                self._run_open()
                result = observations_store(
                    rows=rows,
                    channel=IngestBatch.Channel.MQTT,
                    received=received,
                    rejected=len(errors),
                    errors=errors[:MAX_ERRORS_LISTED],
                    source_id=self.source_id,
                    run_id=self.run_id,
                )
                break
            except Exception:  # database down: keep the batch (unacknowledged) and retry
                log.exception("MQTT batch of %s messages not stored; retrying in 1 s", len(batch))
                if self._stop.is_set():
                    return 0
                time.sleep(1)
        # Committed: now, and only now, acknowledge (messages of the current connection only).
        # Every message is acknowledged, even when its packet id repeats within the batch: under
        # load Mosquitto 2.0.11 has been seen to exceed the Receive Maximum and wrap the 16-bit
        # ids (92,000 unacknowledged messages); each PUBACK releases one of them, so skipping a
        # repeated id would leave a message in flight forever and stall the session.
        for gen, mid, _topic, _payload, qos in batch:
            if qos and gen == generation:
                self.client.ack(mid, qos)
        s = self.stats
        s.messages += len(batch)
        s.readings += received
        s.stored += result.stored
        s.duplicates += result.duplicates
        s.rejected += len(errors)
        s.flushes += 1
        if time.monotonic() - self._run_reported >= RUN_PROGRESS_EVERY_S:
            self._run_report()
        return len(batch)

    # --- lineage run ---------------------------------------------------------------------------
    def _run_open(self) -> None:
        if self.run_id is None:
            self.source_id, self.run_id = mqtt_session_run_start()

    def _counts(self) -> dict:
        s = self.stats
        return {"read": s.readings, "stored": s.stored, "rejected": s.rejected}

    def _run_report(self) -> None:
        self._run_reported = time.monotonic()
        if self.run_id is None:
            return
        try:
            run_progress(run_id=self.run_id, counts=self._counts())
        except Exception:  # counts are informative; a failed update must not stop the ingest
            log.warning("could not update MQTT run %s counts", self.run_id, exc_info=True)

    def _run_close(self) -> None:
        if self.run_id is None:
            return
        try:
            close_old_connections()
            run_finish(run_id=self.run_id, status="succeeded", counts=self._counts())
        except Exception:  # database down at shutdown: the run stays open with its last counts
            log.warning("could not finish MQTT run %s", self.run_id, exc_info=True)

    def run(self, *, install_signal_handlers: bool = True, max_seconds: float | None = None) -> BridgeStats:
        if install_signal_handlers:
            signal.signal(signal.SIGTERM, lambda *_: self.stop())
            signal.signal(signal.SIGINT, lambda *_: self.stop())
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = self.receive_maximum
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive, clean_start=False, properties=props)
        self.client.loop_start()  # network thread: reads, keepalives, reconnects
        started = time.monotonic()
        try:
            self._run_open()
        except Exception:  # database down: the first flush opens the run (it retries until stored)
            log.warning("could not open the MQTT session run yet", exc_info=True)
        try:
            while not self._stop.is_set():
                with self._cond:
                    if len(self._buf) < self.batch_size:
                        self._cond.wait(timeout=self.flush_interval_s)
                self.flush()
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
            self.flush()
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            self._run_close()
        return self.stats

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify()
