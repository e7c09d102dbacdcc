"""The MQTT bridge: Mosquitto `cityos/<device key>/telemetry` -> observations, nothing lost.

Delivery contract
-----------------
* QoS 1 on a persistent session: MQTT 5 clean_start=False with a 7-day session expiry, and a
  fixed client id that names the session.
* Manual acknowledgement: a message is acknowledged (PUBACK) only after the batch holding it is
  committed. A bridge killed at any moment loses nothing: the broker redelivers every message not
  yet acknowledged, and the first-write-wins store (`iot_ingest.observations_store`) turns the
  redeliveries into duplicates that are ignored. Every acknowledged reading is stored exactly once.
* Batches: a flush every `flush_interval_s` (200 ms) or `batch_size` messages, whichever comes
  first; one COPY (or INSERT … ON CONFLICT for a batch holding a resend) per flush.
* Malformed messages are acknowledged (a resend cannot fix them) and counted as rejected, with
  their reason, in the ingest monitor (IngestBatch).

A pool of bridges (`manage.py mqtt_bridge --workers N`, what the Procfile runs)
------------------------------------------------------------------------------
One process drains ~55-75k single-reading messages/s on this 2-core machine (bridge ~8 µs of CPU
a message, PostgreSQL ~6, Mosquitto ~4); N processes share the work through an MQTT 5 shared
subscription, `$share/<group>/cityos/+/telemetry`: the broker hands each message to one member.
Every member has its own fixed client id (`<client id>-0` … `<client id>-N-1`) and persistent
session, so the contract above holds per member. Mosquitto 2.x deals shared messages round-robin
over *all* members of the group, connected or not (checked with 2.0.11): a member that is down
(killed, restarting) keeps receiving its share, queued in its session, plus its unacknowledged
messages, and gets all of them when it reconnects under the same client id. So:
* the supervisor restarts a dead member at once (1 s, backing off to 30 s if it keeps dying) and a
  member whose supervisor died stops by itself; while a member is down its share waits at the
  broker (delayed, not lost);
* a session nobody reconnects would keep collecting its share until it expires (7 days) and then
  lose it. On start the supervisor therefore *retires* the sessions of members beyond the pool
  size (`<client id>-N`, `-N+1`, … until one does not exist, i.e. after shrinking the pool) and of
  the single bridge (`<client id>`, before the pool existed): it drains each (storing its queue),
  unsubscribes it and closes it with a session expiry of 0, after creating the current members'
  sessions, so the topic is never without a subscriber.
* Two pools on two machines: the same group, different client ids. A client id must never be used
  by two running processes (the broker disconnects the older connection).
* The exception: Mosquitto 2.0.11 saves plain subscriptions in its persistence file but not shared
  ones (checked: after a restart a persistent session is back without its `$share/…`
  subscription). Members resubscribe as soon as they reconnect (retrying every 0.1-0.5 s), but
  a message published after a broker restart and before the first member is back has no
  subscriber and is dropped by the broker. The single bridge (plain subscription) has no such
  window; messages queued before the restart are kept either way.

Devices authenticate at the broker (username = device key, password = its secret; see
iot_broker): only a device may publish to its own topic, so the key in the topic is the device's
identity. The bridge still checks it against the registry: a switched-off or deleted device's
readings (e.g. queued at the broker before it was disabled) are refused, and the resolver learns
of every change to devices and datastreams within a second (iot_ingest's registry version).

Payload: a JSON object of metric values with an optional `ts` (ISO 8601 or epoch seconds, or
milliseconds when > 1e11), or a list of such objects. Readings more than 5 minutes in the future
are refused, as on the HTTP path.

Speed: per message, stock paho-mqtt makes three recv() calls (type byte, length byte, body), builds
a Properties object and an MQTTMessage, logs, and queues one PUBACK packet with a wake-up write:
the bridge used ~50 µs of CPU a message (12-15k messages/s). `_LeanClient` reads the socket
256 KiB at a time, splits it into packets in one loop, hands QoS 1 PUBLISH packets without
properties (what devices send) straight to the bridge, and sends a batch's PUBACKs in one write;
every other packet goes through paho's own handlers. With `_rows` reading payloads without
per-reading dicts, the bridge now uses ~7 µs a message. It relies on paho-mqtt 2.2 internals
(pinned in requirements.txt; a test fails if the fast path is not in use) and on a plain TCP
socket (no TLS).
"""

import json
import logging
import math
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt
import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import close_old_connections
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from datahub.core.services.runs import run_finish, run_progress
from datahub.iot.models import IngestBatch
from datahub.iot.services.ingest import (
    MAX_ERRORS_LISTED,
    MAX_FUTURE_S,
    DatastreamResolver,
    _parse_value,
    observations_store,
    parse_time,
)
from datahub.iot.services.lineage import mqtt_session_run_start

log = logging.getLogger(__name__)

TOPIC = "cityos/+/telemetry"
CLIENT_ID = "cityos-mqtt-bridge"
SHARE_GROUP = "cityos-mqtt-bridge"
SESSION_EXPIRY_S = 7 * 24 * 3600
# The session Run's counts are written at most this often: the bridge flushes 5 times a second,
# the run page needs no more than a figure every few seconds.
RUN_PROGRESS_EVERY_S = 5.0
# One recv() per 256 KiB: ~4,000 single-reading messages.
RECV_BYTES = 256 * 1024
COALESCE_BELOW = 64 * 1024
COALESCE_S = 0.005


def shared_topic(group: str = SHARE_GROUP, topic: str = TOPIC) -> str:
    return f"$share/{group}/{topic}"


def mqtt_frames(buf: bytes) -> tuple[list[tuple], int]:
    """Split a received byte stream into whole MQTT 5 packets -> (frames, bytes used).

    A QoS 1 PUBLISH without properties becomes `(packet id, topic, payload)`; any other packet
    `(0, fixed header byte, body)` (0 is never a QoS 1 packet id). A packet cut at the end of
    `buf` is left unused, for the next read to complete.
    """
    frames: list[tuple] = []
    append = frames.append
    n = len(buf)
    pos = 0
    while pos + 2 <= n:
        header = buf[pos]
        b = buf[pos + 1]
        start = pos + 2
        length = b & 127
        shift = 7
        while b & 128:  # the remaining length is a variable byte integer of 1 to 4 bytes
            if start >= n:
                return frames, pos
            if shift > 21:
                raise ValueError("malformed MQTT remaining length")
            b = buf[start]
            start += 1
            length |= (b & 127) << shift
            shift += 7
        end = start + length
        if end > n:
            break
        if header & 0xF6 == 0x32:  # PUBLISH (0x30) with QoS 1 (bits 1-2); DUP and RETAIN ignored
            t_end = start + 2 + ((buf[start] << 8) | buf[start + 1])
            if t_end + 3 <= end and buf[t_end + 2] == 0:  # a zero-length property block
                append(((buf[t_end] << 8) | buf[t_end + 1], buf[start + 2 : t_end], buf[t_end + 3 : end]))
                pos = end
                continue
        append((0, header, buf[start:end]))
        pos = end
    return frames, pos


# The fast path uses these paho-mqtt 2.2 internals; with another paho the bridge uses paho's own path.
LEAN_PATH = paho.mqtt.__version__.startswith("2.2.") and all(
    hasattr(mqtt.Client, name) for name in ("_packet_handle", "_packet_queue", "_loop_rc_handle", "loop_read")
)


class _LeanClient(mqtt.Client):
    """paho's Client with a bulk receive path and bulk acknowledgements (see the module docstring)."""

    sink = None  # callable(list of (packet id, topic, payload)), set by the bridge
    _tail = b""  # the start of a packet the last recv() cut

    def reconnect(self) -> mqtt.MQTTErrorCode:
        self._tail = b""  # bytes of a packet cut by the old connection mean nothing on the new one
        return super().reconnect()

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        sock = self._sock
        if sock is None:
            return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
        try:
            data = sock.recv(RECV_BYTES)
        except BlockingIOError:
            return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        except OSError:
            return self._loop_rc_handle(mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST)
        if not data:
            return self._loop_rc_handle(mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST)
        with self._msgtime_mutex:
            self._last_bytes_received = time.monotonic()  # paho's keepalive clock (time_func)
        buf = self._tail + data if self._tail else data
        try:
            frames, used = mqtt_frames(buf)
        except ValueError:
            return self._loop_rc_handle(mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL)
        self._tail = buf[used:]
        run = []
        for frame in frames:
            if frame[0]:
                run.append(frame)
                continue
            if run:  # keep the order: a CONNACK or DISCONNECT changes the connection's generation
                self.sink(run)
                run = []
            self._in_packet = {
                "command": frame[1],
                "have_remaining": 1,
                "remaining_count": [],
                "remaining_mult": 1,
                "remaining_length": len(frame[2]),
                "packet": bytearray(frame[2]),
                "to_process": 0,
                "pos": 0,
            }
            try:
                rc = self._packet_handle()
            except MalformedPacket:
                rc = mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
            if rc:
                return self._loop_rc_handle(rc)
            if self._sock is None:
                return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        if run:
            self.sink(run)
        if len(data) < COALESCE_BELOW:
            # A short read: let more arrive before the next one. Every wake-up of paho's loop
            # (select, keepalive bookkeeping, locks) costs ~25 µs; at 30,000 messages/s arriving
            # a few at a time that tripled the bridge's CPU per message. 5 ms more latency is
            # nothing next to the 200 ms flush.
            time.sleep(COALESCE_S)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids: list[int]) -> None:
        """One write of PUBACKs (MQTT 5 short form: 0x40, length 2, packet id = 4 bytes each)."""
        for i in range(0, len(mids), 16384):
            part = mids[i : i + 16384]
            packet = struct.pack(f"!{len(part)}I", *[0x40020000 | m for m in part])
            self._packet_queue(mqtt.PUBACK, packet, 0, 1)


_BAD = object()  # a payload that is not JSON
_DECODER = json.JSONDecoder()


def _json_decode(payload: bytes, scan=_DECODER.scan_once, decode=_DECODER.decode):
    """json.loads(payload), or _BAD. Without json.loads' two regex calls (and its encoding
    detection) when the text has no surrounding whitespace: 0.8 µs a message, not 1.9 (6.6)."""
    try:
        text = payload.decode()
    except UnicodeDecodeError:
        return _BAD
    try:
        data, end = scan(text, 0)
        if end == len(text):
            return data
    except (StopIteration, ValueError, RecursionError):
        pass
    try:
        return decode(text)  # surrounding whitespace, or not JSON at all
    except (ValueError, RecursionError):
        return _BAD


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
        client_id: str = CLIENT_ID,
        topic: str = TOPIC,
        batch_size: int = 5000,
        flush_interval_s: float = 0.2,
        keepalive: int = 30,
        receive_maximum: int = 20000,
        session_expiry_s: int = SESSION_EXPIRY_S,
        lean: bool = LEAN_PATH,
        username: str | None = None,
        password: str | None = None,
    ):
        self.session_expiry_s = session_expiry_s
        self.host, self.port, self.topic, self.client_id = host, port, topic, client_id
        self.batch_size, self.flush_interval_s, self.keepalive = batch_size, flush_interval_s, keepalive
        self.stats = BridgeStats()
        self.resolver = DatastreamResolver()
        self._topic_keys: dict[bytes, str] = {}
        # Lineage: one Run per bridge session (opened on the first flush or at start, finished on stop).
        self.source_id: int | None = None
        self.run_id: int | None = None
        self._run_reported = 0.0
        # Received, not yet stored: chunks of (generation, [(packet id or 0 for QoS 0, topic, payload), …]).
        self._chunks: list[tuple[int, list[tuple[int, bytes, bytes]]]] = []
        self._pending = 0
        self._last_rx = 0.0
        self._cond = threading.Condition()
        self._generation = 0
        self._stop = threading.Event()
        self._subscribe = True
        self._preparing = False
        self._closing = False  # we are disconnecting on purpose
        self.session_present: bool | None = None
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.unsubscribed = threading.Event()
        # MQTT 5 for its Receive Maximum: the broker never has more than `receive_maximum`
        # messages unacknowledged towards us. (With 3.1.1, Mosquitto 2.0.11 ignored
        # max_inflight_messages while a slow commit held the acks: 135,000 messages arrived,
        # 16-bit packet ids wrapped around, and the session stalled.) The persistent session is
        # clean_start=False with a session expiry of 7 days (3.1.1's clean_session=False).
        self.receive_maximum = min(receive_maximum, 65535)
        self.lean = lean
        self.client = (_LeanClient if lean else mqtt.Client)(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if lean:
            self.client.sink = self._sink
        # The bridge's own broker client (MQTT_USERNAME / MQTT_PASSWORD; see iot_broker).
        username = settings.MQTT_USERNAME if username is None else username
        if username:
            self.client.username_pw_set(username, settings.MQTT_PASSWORD if password is None else password)
        # Reconnect fast after a broker restart: retry after 0.1 s, then every 0.5 s at most (a
        # refused connection costs next to nothing). A pool member must be back before devices
        # are: Mosquitto 2.0.11 does not restore shared subscriptions from its persistence file,
        # so until a member resubscribes, messages for the pool have no subscriber.
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_unsubscribe = self._on_unsubscribe

    # --- network thread -----------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error(
                "MQTT bridge %s: the broker refused the connection (%s); check MQTT_USERNAME / MQTT_PASSWORD",
                self.client_id,
                reason_code,
            )
            return
        with self._cond:
            # Messages received on an earlier connection are stored but never acknowledged:
            # their packet ids belong to the old connection (the broker redelivers them).
            self._generation += 1
        self.session_present = bool(flags.session_present)
        self.stats.connects += 1
        # Resubscribing is harmless with a resumed session and needed with a fresh one.
        if self._subscribe:
            client.subscribe(self.topic, qos=1)
        self.connected.set()
        log.info(
            "MQTT bridge %s connected to %s:%s (session present: %s)",
            self.client_id,
            self.host,
            self.port,
            flags.session_present,
        )

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self.subscribed.set()
        if self._preparing:
            log.info("MQTT bridge session %s ready on %s", self.client_id, self.topic)
            return
        # Tests and the benchmark wait for this line ("MQTT bridge subscribed").
        log.info(
            "MQTT bridge subscribed to %s as %s (%s)", self.topic, self.client_id, [str(rc) for rc in reason_codes]
        )

    def _on_unsubscribe(self, client, userdata, mid, reason_codes, properties):
        self.unsubscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        with self._cond:
            # From now on no acknowledgement of this connection's messages may be queued: paho
            # would send it on the next connection, where the packet id may name another message.
            self._generation += 1
        self.connected.clear()
        if not self._stop.is_set() and not self._closing:
            log.warning("MQTT bridge %s disconnected (%s); reconnecting", self.client_id, reason_code)

    def _sink(self, frames: list[tuple[int, bytes, bytes]]) -> None:
        with self._cond:
            self._chunks.append((self._generation, frames))
            self._pending += len(frames)
            self._last_rx = time.monotonic()
            if self._pending >= self.batch_size:
                self._cond.notify()

    def _on_message(self, client, userdata, msg):
        # paho's own path: a QoS 0 message, or a PUBLISH with properties (or no lean client).
        self._sink([(msg.mid if msg.qos else 0, msg.topic.encode(), msg.payload)])

    # --- flushing (main thread) ------------------------------------------------------------------
    def _device_key(self, topic: bytes) -> str:
        key = self._topic_keys.get(topic)
        if key is None:
            parts = topic.decode("utf-8", "replace").split("/")
            key = parts[1] if len(parts) == 3 else ""
            if len(self._topic_keys) > 100_000:
                self._topic_keys.clear()
            self._topic_keys[topic] = key
        return key

    def _rows(self, chunks) -> tuple[list, int, list[dict]]:
        """Messages -> (rows, readings received, errors). No per-reading dicts: a single object
        (what devices send) skips the list wrapping, numeric times and values skip the generic
        parsers, and each topic's device key is worked out once."""
        keys = set()
        decoded = []
        errors: list[dict] = []
        received = 0
        now = time.time()
        latest_ok = now + MAX_FUTURE_S
        device_key = self._device_key
        i = -1
        for _gen, frames in chunks:
            for _mid, topic, payload in frames:
                i += 1
                key = device_key(topic)
                data = _json_decode(payload)
                if data is _BAD:
                    received += 1
                    errors.append(
                        {"index": i, "field": None, "reason": f"{topic.decode(errors='replace')}: payload is not JSON"}
                    )
                    continue
                keys.add(key)
                decoded.append((i, key, data))
        self.resolver.load(device_keys=keys)
        by_key, device_ids, rows = self.resolver.by_key, self.resolver.device_ids, []
        append = rows.append
        isfinite = math.isfinite
        for i, key, data in decoded:
            for item in (data,) if type(data) is dict else data if type(data) is list else (data,):
                if type(item) is not dict:
                    received += 1
                    errors.append(
                        {"index": i, "field": None, "reason": f"device {key}: telemetry must be a JSON object"}
                    )
                    continue
                raw_ts = item.pop("ts", None)
                tt = type(raw_ts)
                if raw_ts is None:
                    t = now
                elif (tt is float or tt is int) and 0 <= raw_ts < 1e14:  # NaN, inf, huge: parse_time says why
                    t = raw_ts / 1000.0 if raw_ts > 1e11 else float(raw_ts)
                    if t > latest_ok:
                        received += 1
                        errors.append({"index": i, "field": "ts", "reason": f"device {key}: time is in the future"})
                        continue
                else:
                    try:
                        t = parse_time(raw_ts)
                        if t > latest_ok:
                            raise ValueError("time is in the future")
                    except ValueError as exc:
                        received += 1
                        errors.append({"index": i, "field": "ts", "reason": f"device {key}: {exc}"})
                        continue
                    except OverflowError:  # an integer too large for a float
                        received += 1
                        errors.append({"index": i, "field": "ts", "reason": f"device {key}: time is out of range"})
                        continue
                for metric, value in item.items():
                    received += 1
                    ds = by_key.get((key, metric))
                    if ds is None:
                        errors.append(
                            {
                                "index": i,
                                "field": "metric",
                                "reason": f"device {key}: unknown metric {metric!r}"
                                if key in device_ids
                                else f"device {key}: unknown or switched-off device",
                            }
                        )
                        continue
                    vt = type(value)
                    if vt is float and isfinite(value):
                        v = value
                    elif vt is int and -1e300 < value < 1e300:
                        v = float(value)
                    else:
                        try:
                            v = _parse_value(value)
                        except ValueError as exc:
                            errors.append({"index": i, "field": metric, "reason": f"device {key}: {exc}"})
                            continue
                        except OverflowError:
                            errors.append({"index": i, "field": metric, "reason": f"device {key}: value out of range"})
                            continue
                    lo, hi = ds[1], ds[2]
                    if (lo is not None and v < lo) or (hi is not None and v > hi):
                        errors.append(
                            {"index": i, "field": metric, "reason": f"device {key}: {v} outside [{lo}, {hi}]"}
                        )
                        continue
                    append((ds[0], t, v))
        errors.sort(key=lambda e: e["index"])  # stable: a message's errors keep their order
        return rows, received, errors

    def _rows_one_by_one(self, chunks) -> tuple[list, int, list[dict]]:
        rows, received, errors = [], 0, []
        i = -1
        for gen, frames in chunks:
            for frame in frames:
                i += 1
                try:
                    r, n, e = self._rows([(gen, [frame])])
                except Exception as exc:
                    r, n, e = (
                        [],
                        1,
                        [{"field": None, "reason": f"{frame[1].decode(errors='replace')}: unreadable ({exc!r:.200})"}],
                    )
                rows += r
                received += n
                errors += [{**err, "index": i} for err in e]
        return rows, received, errors

    def flush(self) -> int:
        with self._cond:
            chunks, self._chunks = self._chunks, []
            count, self._pending = self._pending, 0
        if not count:
            return 0
        try:
            rows, received, errors = self._rows(chunks)
        except Exception:  # a bug met by an odd message: it must not stop the ingest (redelivered forever)
            log.exception(
                "MQTT bridge %s: batch not readable as a whole; reading it message by message", self.client_id
            )
            rows, received, errors = self._rows_one_by_one(chunks)
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
                log.exception("MQTT batch of %s messages not stored; retrying in 1 s", count)
                if self._stop.is_set():
                    return 0
                time.sleep(1)
        # Committed: now, and only now, acknowledge the messages of the current connection. Under
        # the lock, so that a disconnect (which moves the generation on) cannot slip between the
        # check and the queueing. Every message is acknowledged, even when its packet id repeats
        # within the batch: under load Mosquitto 2.0.11 has been seen to exceed the Receive
        # Maximum and wrap the 16-bit ids (92,000 unacknowledged messages); each PUBACK releases
        # one of them, so skipping a repeated id would leave a message in flight forever.
        with self._cond:
            generation = self._generation
            mids = [f[0] for gen, frames in chunks if gen == generation for f in frames if f[0]]
            if mids:
                if self.lean:
                    self.client.ack_many(mids)
                else:
                    for mid in mids:
                        self.client.ack(mid, 1)
        s = self.stats
        s.messages += count
        s.readings += received
        s.stored += result.stored
        s.duplicates += result.duplicates
        s.rejected += len(errors)
        s.flushes += 1
        if time.monotonic() - self._run_reported >= RUN_PROGRESS_EVERY_S:
            self._run_report()
        return count

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

    # --- running -------------------------------------------------------------------------------
    def _connect(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = self.receive_maximum
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive, clean_start=False, properties=props)
        self.client.loop_start()  # network thread: reads, keepalives, reconnects

    def _close(self, *, forget: bool = False) -> None:
        self._closing = True
        props = None
        if forget:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0  # the broker drops the session as we disconnect
        self.client.disconnect(properties=props)
        self.client.loop_stop()

    def _wait_and_flush(self) -> None:
        with self._cond:
            if self._pending < self.batch_size:
                self._cond.wait(timeout=self.flush_interval_s)
        self.flush()

    def run(
        self,
        *,
        install_signal_handlers: bool = True,
        max_seconds: float | None = None,
        parent_pid: int | None = None,
    ) -> BridgeStats:
        """Bridge until stopped (SIGTERM/SIGINT, stop(), `max_seconds`, or the death of
        `parent_pid`, the supervisor of a pool member)."""
        if install_signal_handlers:
            signal.signal(signal.SIGTERM, lambda *_: self.stop())
            signal.signal(signal.SIGINT, lambda *_: self.stop())
        self._connect()
        started = time.monotonic()
        try:
            self._run_open()
        except Exception:  # database down: the first flush opens the run (it retries until stored)
            log.warning("could not open the MQTT session run yet", exc_info=True)
        try:
            while not self._stop.is_set():
                self._wait_and_flush()
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
                if parent_pid is not None and os.getppid() != parent_pid:
                    log.warning("MQTT bridge %s: its supervisor is gone; stopping", self.client_id)
                    break
            self.flush()
        finally:
            self._close()
            self._run_close()
        return self.stats

    def _drain_until_idle(self, idle_s: float, deadline: float) -> None:
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._wait_and_flush()
            with self._cond:
                idle = not self._pending and time.monotonic() - self._last_rx >= idle_s
            if idle:
                return

    def ensure_session(self, *, timeout_s: float = 10.0) -> bool:
        """Create (or keep) this client id's session subscribed to the topic, then disconnect:
        from now on the broker queues the member's share even before the member runs. Nothing
        received here is acknowledged (the member gets it again). Returns whether it existed."""
        self.receive_maximum = 1
        self._preparing = True
        self._connect()
        try:
            if not self.subscribed.wait(timeout_s):
                raise RuntimeError(f"MQTT bridge {self.client_id}: no subscription within {timeout_s} s")
            return bool(self.session_present)
        finally:
            self._close()

    def retire(self, *, topics: list[str], idle_s: float = 1.0, timeout_s: float = 600.0) -> bool:
        """Drain this client id's session if the broker holds one (storing its queue as usual),
        unsubscribe `topics` and close it with a session expiry of 0, so the broker forgets it.
        Returns False when there was no session (the empty one just made is removed too)."""
        self._subscribe = False
        self._connect()
        deadline = time.monotonic() + timeout_s
        forget = False
        try:
            if not self.connected.wait(min(timeout_s, 10.0)):
                raise RuntimeError(f"MQTT bridge {self.client_id}: broker not reachable")
            if self.session_present:
                self._last_rx = time.monotonic()
                self._drain_until_idle(idle_s, deadline)
                self.client.unsubscribe(topics)
                if not self.unsubscribed.wait(10.0):
                    raise RuntimeError(f"MQTT bridge {self.client_id}: no UNSUBACK")
                # Messages queued before the UNSUBSCRIBE still come: store them too.
                self._last_rx = time.monotonic()
                self._drain_until_idle(idle_s, deadline)
                if self._pending or not self.connected.is_set() or self._stop.is_set():
                    # Not drained (stopped, disconnected, timed out): keep the session for a retry.
                    self.flush()
                    return True
                log.info(
                    "MQTT bridge %s retired: %s messages stored from its session", self.client_id, self.stats.messages
                )
            forget = True
            return bool(self.session_present)
        finally:
            self._close(forget=forget)
            self._run_close()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify()


class MqttBridgePool:
    """`workers` bridge processes on one shared subscription, restarted when they die."""

    RESTART_MIN_S = 1.0
    RESTART_MAX_S = 30.0

    def __init__(
        self,
        *,
        workers: int,
        host: str,
        port: int,
        client_id: str = CLIENT_ID,
        group: str = SHARE_GROUP,
        topic: str = TOPIC,
        batch_size: int = 5000,
        flush_ms: int = 200,
    ):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers, self.host, self.port = workers, host, port
        self.client_id, self.group, self.topic = client_id, group, topic
        self.shared = shared_topic(group, topic)
        self.batch_size, self.flush_ms = batch_size, flush_ms
        self.members = [f"{client_id}-{k}" for k in range(workers)]
        self.procs: dict[str, subprocess.Popen] = {}
        self._started: dict[str, float] = {}
        self._delay: dict[str, float] = {}
        self._due: dict[str, float] = {}
        self._stop = threading.Event()
        self._retiring: MqttBridge | None = None
        self.restarts = 0

    def _bridge(self, client_id: str, topic: str) -> MqttBridge:
        return MqttBridge(host=self.host, port=self.port, client_id=client_id, topic=topic)

    def _command(self, member: str) -> list[str]:
        return [
            sys.executable,
            str(settings.BASE_DIR / "manage.py"),
            "mqtt_bridge",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--client-id",
            member,
            "--topic",
            self.shared,
            "--batch-size",
            str(self.batch_size),
            "--flush-ms",
            str(self.flush_ms),
            "--parent-pid",
            str(os.getpid()),
        ]

    def _spawn(self, member: str) -> None:
        proc = subprocess.Popen(self._command(member))  # noqa: S603 (our own interpreter and manage.py)
        self.procs[member] = proc
        self._started[member] = time.monotonic()
        log.info("MQTT bridge pool: started member %s (pid %s)", member, proc.pid)

    def retire_stale(self) -> list[str]:
        """Retire the single bridge's session and those of members beyond the pool size."""
        retired = []
        candidates = [self.client_id]
        k = self.workers
        while not self._stop.is_set():
            candidates.append(f"{self.client_id}-{k}")
            for client_id in candidates:
                self._retiring = self._bridge(client_id, self.topic)
                if self._stop.is_set():
                    return retired
                if self._retiring.retire(topics=[self.topic, self.shared]):
                    retired.append(client_id)
                elif client_id != self.client_id:
                    return retired  # members are numbered from 0: the first missing one ends them
            candidates = []
            k += 1
        return retired

    def supervise_once(self) -> None:
        now = time.monotonic()
        for member, proc in list(self.procs.items()):
            if proc.poll() is None:
                continue
            if member not in self._due:
                # Dying again within 10 s of a start (database or broker down, a bug): back off,
                # 1 s doubling to 30 s; otherwise restart after 1 s.
                if now - self._started[member] >= 10:
                    self._delay[member] = self.RESTART_MIN_S
                else:
                    self._delay[member] = min(self._delay.get(member, self.RESTART_MIN_S / 2) * 2, self.RESTART_MAX_S)
                self._due[member] = now + self._delay[member]
                log.warning(
                    "MQTT bridge pool: member %s (pid %s) exited with %s; restarting in %.0f s",
                    member,
                    proc.pid,
                    proc.returncode,
                    self._due[member] - now,
                )
            elif now >= self._due[member]:
                del self._due[member]
                self.restarts += 1
                self._spawn(member)

    def stop(self) -> None:
        self._stop.set()
        if self._retiring is not None:
            self._retiring.stop()

    def run(self, *, install_signal_handlers: bool = True) -> int:
        if install_signal_handlers:
            signal.signal(signal.SIGTERM, lambda *_: self.stop())
            signal.signal(signal.SIGINT, lambda *_: self.stop())
        try:
            # The members' sessions first: from then on every message has a session to wait in,
            # even while the stale sessions below are unsubscribed.
            while not self._stop.is_set():
                try:
                    for member in self.members:
                        self._bridge(member, self.shared).ensure_session()
                    break
                except Exception as exc:  # broker down: the pool waits for it, like a bridge does
                    log.warning("MQTT bridge pool: cannot prepare the sessions (%s); retrying in 5 s", exc)
                    self._stop.wait(5)
            for member in self.members:
                if not self._stop.is_set():
                    self._spawn(member)
            try:
                retired = self.retire_stale()
                if retired:
                    log.info("MQTT bridge pool: retired the sessions of %s", ", ".join(retired))
            except Exception:  # the next start tries again; the members work meanwhile
                log.exception("MQTT bridge pool: could not retire stale sessions")
            while not self._stop.wait(0.2):
                self.supervise_once()
        finally:
            for proc in self.procs.values():
                if proc.poll() is None:
                    proc.terminate()
            for member, proc in self.procs.items():
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    log.warning("MQTT bridge pool: member %s did not stop in 30 s; killing it", member)
                    proc.kill()
                    proc.wait()
        return self.restarts
