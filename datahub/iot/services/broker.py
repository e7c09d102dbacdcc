"""Device authentication at the MQTT broker: Mosquitto's dynamic-security plugin.

The broker refuses anonymous clients. Every device is a broker client (username = its key,
password = its secret) with a role of its own, `cityos-device-<key>`, whose only ACL lets it
publish to `cityos/<key>/telemetry` (the plugin's default ACL access forbids every other publish
and every subscription). Mosquitto 2.0.11's dynamic security substitutes neither %u nor %c in
ACL topics (checked), hence one role per device. The bridge (`cityos-bridge` role: subscribe to
`cityos/+/telemetry`, plain or shared) and the health check (no role: it only connects) have
clients of their own; `MQTT_ADMIN_*` administers the plugin over `$CONTROL/dynamic-security/v1`.

The database is the truth and the broker a copy:
* a service that changes what the broker must know (register, rotate, activate/deactivate,
  delete) increments the device's `broker_revision` and, after commit, pushes the device's whole
  state (`devices_broker_sync`): one control message for all the devices of the transaction
  (a CSV of 1,000 devices is one round trip). The broker's answer marks the revision synced; an
  unreachable broker leaves the device pending with `broker_error` set (shown by the API and the
  admin, logged as a warning) and never undoes the database change;
* `broker_reconcile` (`manage.py mqtt_reconcile`, beat job `datahub.mqtt_reconcile` every 5
  minutes) compares everything with the broker and repairs it: missing clients and roles
  created, wrong ACLs and roles corrected, enabled/disabled state aligned, pending secrets pushed,
  clients and roles of devices that no longer exist deleted, the bridge and health clients
  restored (their password checked by logging in with it).

Mosquitto kicks a connected client whose password is set or which is disabled or deleted, so a
switched-off device is cut off at once; reconcile therefore sets a password only for a device
whose change is pending or whose client was missing.
"""

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import connection
from django.utils import timezone

from datahub.iot.models import Device
from datahub.iot.services.ingest import on_commit_once

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
DEVICE_ROLE_PREFIX = "cityos-device-"
BRIDGE_ROLE = "cityos-bridge"
# Commands per control message. Mosquitto 2.0.11's plugin rewrites its whole JSON file after
# every change, in the broker's only thread: with 1,000 devices a command costs ~7 ms (pushing
# 1,000 new devices, 2 commands each, took 14 s; 60 took 0.4 s), so 100 commands hold the broker
# for well under a second before other clients are served again.
COMMANDS_PER_MESSAGE = 100
PER_COMMAND_S = 0.05
# Errors that mean "already as wanted" for the commands we send.
_HARMLESS = (
    "already exists",
    "not found",
    "already has",
)


ROTATION_NEEDED = "no MQTT secret stored for this device: rotate its credential"


class BrokerError(RuntimeError):
    """The broker could not be reached, refused the administrator, or did not answer."""


def device_topic(key: str) -> str:
    return f"cityos/{key}/telemetry"


def device_role(key: str) -> str:
    return DEVICE_ROLE_PREFIX + key


def _device_acls(key: str) -> list[dict]:
    return [{"acltype": "publishClientSend", "topic": device_topic(key), "priority": 0, "allow": True}]


def _bridge_acls() -> list[dict]:
    # A pool of bridges subscribes to $share/<group>/cityos/+/telemetry; "+" in a pattern also
    # matches the literal "+" of the subscription.
    return [
        {"acltype": "subscribePattern", "topic": "cityos/+/telemetry", "priority": 0, "allow": True},
        {"acltype": "subscribePattern", "topic": "$share/+/cityos/+/telemetry", "priority": 0, "allow": True},
    ]


def broker_managed() -> bool:
    """Whether devices are pushed to a broker (the administrator's credentials are set)."""
    return bool(settings.MQTT_ADMIN_USERNAME and settings.MQTT_ADMIN_PASSWORD)


def mqtt_client_credentials(client: mqtt.Client, *, purpose: str = "bridge") -> None:
    """Give a paho client the bridge's (or the health check's) credentials from the settings."""
    if purpose == "health":
        user, password = settings.MQTT_HEALTH_USERNAME, settings.MQTT_HEALTH_PASSWORD
    else:
        user, password = settings.MQTT_USERNAME, settings.MQTT_PASSWORD
    if user:
        client.username_pw_set(user, password)


def login_works(*, username: str, password: str, host: str | None = None, port: int | None = None) -> bool:
    """Try an MQTT login; True when the broker accepts it (raises BrokerError when unreachable)."""
    result: dict = {}
    done = threading.Event()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"cityos-login-check-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(username, password)

    def on_connect(_c, _u, _flags, reason_code, _props):
        result["rc"] = reason_code
        done.set()

    client.on_connect = on_connect
    client.connect_timeout = settings.MQTT_ADMIN_TIMEOUT_S
    try:
        client.connect(host or settings.MQTT_HOST, port or settings.MQTT_PORT, keepalive=10)
    except OSError as exc:
        raise BrokerError(f"MQTT broker {host or settings.MQTT_HOST}:{port or settings.MQTT_PORT}: {exc}") from exc
    client.loop_start()
    try:
        if not done.wait(settings.MQTT_ADMIN_TIMEOUT_S):
            raise BrokerError("no CONNACK from the MQTT broker")
        return not result["rc"].is_failure
    finally:
        client.disconnect()
        client.loop_stop()


class Dynsec:
    """One administrator connection to the dynamic-security plugin (a context manager)."""

    def __init__(self, *, host: str | None = None, port: int | None = None, timeout_s: float | None = None):
        self.host = host or settings.MQTT_HOST
        self.port = port or settings.MQTT_PORT
        self.timeout_s = timeout_s or settings.MQTT_ADMIN_TIMEOUT_S
        self._answers: dict[str, list] = {}
        self._cond = threading.Condition()
        self._connack: dict = {}
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"cityos-dynsec-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(settings.MQTT_ADMIN_USERNAME, settings.MQTT_ADMIN_PASSWORD)
        self.client.connect_timeout = self.timeout_s
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, _c, _u, _flags, reason_code, _props):
        with self._cond:
            self._connack["rc"] = reason_code
            self._cond.notify_all()

    def _on_subscribe(self, _c, _u, _mid, reason_codes, _props):
        with self._cond:
            self._connack["sub"] = reason_codes
            self._cond.notify_all()

    def _on_message(self, _c, _u, msg):
        try:
            responses = json.loads(msg.payload).get("responses", [])
        except (ValueError, AttributeError):
            return
        with self._cond:
            for r in responses:
                self._answers[str(r.get("correlationData"))] = r
            self._cond.notify_all()

    def _wait(self, predicate, what: str, *, extra_s: float = 0.0) -> None:
        deadline = time.monotonic() + self.timeout_s + extra_s
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrokerError(f"MQTT broker {self.host}:{self.port}: no {what} within {self.timeout_s:g} s")
                self._cond.wait(left)

    def __enter__(self) -> "Dynsec":
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise BrokerError(f"MQTT broker {self.host}:{self.port}: {exc}") from exc
        self.client.loop_start()
        try:
            self._wait(lambda: "rc" in self._connack, "CONNACK")
            if self._connack["rc"].is_failure:
                raise BrokerError(
                    f"MQTT broker {self.host}:{self.port} refused the administrator "
                    f"{settings.MQTT_ADMIN_USERNAME!r}: {self._connack['rc']}"
                )
            self.client.subscribe(RESPONSE_TOPIC, qos=1)
            self._wait(lambda: "sub" in self._connack, "SUBACK")
            if any(rc.is_failure for rc in self._connack["sub"]):
                raise BrokerError("the MQTT administrator may not read the dynamic-security responses")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_exc) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def run(self, commands: list[dict]) -> list[dict]:
        """Send commands (in messages of COMMANDS_PER_MESSAGE), return the answers in order."""
        answers = []
        for i in range(0, len(commands), COMMANDS_PER_MESSAGE):
            part = [dict(c, correlationData=uuid.uuid4().hex) for c in commands[i : i + COMMANDS_PER_MESSAGE]]
            ids = [c["correlationData"] for c in part]
            self.client.publish(CONTROL_TOPIC, json.dumps({"commands": part}), qos=1)
            # The plugin rewrites its file after each change: allow for it beyond the base timeout.
            self._wait(
                lambda ids=ids: all(c in self._answers for c in ids),
                "dynamic-security answer",
                extra_s=PER_COMMAND_S * len(part),
            )
            with self._cond:
                answers += [self._answers.pop(c) for c in ids]
        return answers

    def list_clients(self) -> dict[str, dict]:
        (answer,) = self.run([{"command": "listClients", "verbose": True, "count": -1}])
        _raise_on(answer)
        return {c["username"]: c for c in answer["data"]["clients"]}

    def list_roles(self) -> dict[str, dict]:
        (answer,) = self.run([{"command": "listRoles", "verbose": True, "count": -1}])
        _raise_on(answer)
        return {r["rolename"]: r for r in answer["data"]["roles"]}


def _raise_on(answer: dict) -> None:
    if answer.get("error"):
        raise BrokerError(f"dynamic security refused {answer.get('command')}: {answer['error']}")


def _failed(answer: dict) -> str | None:
    error = answer.get("error")
    if not error or any(h in error.lower() for h in _HARMLESS):
        return None
    return f"{answer.get('command')}: {error}"


def _device_secret(device) -> str | None:
    from datahub.iot.services.devices import device_mqtt_secret

    return device_mqtt_secret(device)


def _device_create(device, secret: str) -> list[dict]:
    """A device the broker does not know yet: its role and its client (2 commands; the plugin
    rewrites its whole file after each, so a push of 1,000 new devices is 2,000 rewrites)."""
    key, role = device.key, device_role(device.key)
    cmds = [
        {"command": "createRole", "rolename": role, "acls": _device_acls(key)},
        {"command": "createClient", "username": key, "password": secret, "roles": [{"rolename": role}]},
    ]
    if not device.is_active:
        cmds.append({"command": "disableClient", "username": key})
    return cmds


def _device_update(device, secret: str) -> list[dict]:
    """A device whose client exists: its password, its role, enabled or not. Setting the
    password and disabling drop its open connection."""
    key, role = device.key, device_role(device.key)
    return [
        {"command": "setClientPassword", "username": key, "password": secret},
        # For a client that existed without its role. (addClientRole of a role the client
        # already has answers "Internal error" in Mosquitto 2.0.11, hence the removal first.)
        {"command": "removeClientRole", "username": key, "rolename": role},
        {"command": "addClientRole", "username": key, "rolename": role},
        {"command": "enableClient" if device.is_active else "disableClient", "username": key},
    ]


def _device_push(dyn: "Dynsec", devices: list, *, exist: bool | None = None) -> dict[str, str]:
    """Make the broker hold these (device, secret) pairs as they are; returns {key: problem}.
    exist=None: not known, so create, and update those whose client already existed."""
    problems: dict[str, str] = {}
    existing = list(devices) if exist else []
    if not exist:
        commands, owners = [], []
        for device, secret in devices:
            cmds = _device_create(device, secret)
            commands += cmds
            owners += [(device, secret)] * len(cmds)
        for (device, secret), cmd, answer in zip(owners, commands, dyn.run(commands), strict=True):
            if cmd["command"] == "createClient" and "already exists" in (answer.get("error") or ""):
                if exist is None:
                    existing.append((device, secret))
                continue
            problem = _failed(answer)
            if problem:
                problems.setdefault(device.key, problem)
    if existing:
        commands, owners = [], []
        for device, secret in existing:
            cmds = _device_update(device, secret)
            commands += cmds
            owners += [device.key] * len(cmds)
        for key, answer in zip(owners, dyn.run(commands), strict=True):
            problem = _failed(answer)
            if problem:
                problems.setdefault(key, problem)
    return problems


def _device_remove(key: str) -> list[dict]:
    return [{"command": "deleteClient", "username": key}, {"command": "deleteRole", "rolename": device_role(key)}]


def _mark(results: dict[int, tuple[int, str]]) -> None:
    """Record each device's outcome, (revision pushed, error or ""), in two statements."""
    failed = [(device_id, error[:300]) for device_id, (_rev, error) in results.items() if error]
    done = [(device_id, rev) for device_id, (rev, error) in results.items() if not error]
    with connection.cursor() as cur:
        if failed:
            cur.execute(
                "UPDATE datahub_device d SET broker_error = v.error"
                " FROM unnest(%s::bigint[], %s::text[]) AS v(id, error) WHERE d.id = v.id",
                [[f[0] for f in failed], [f[1] for f in failed]],
            )
        if done:
            # Only where no newer change was made meanwhile (its own push follows it).
            cur.execute(
                "UPDATE datahub_device d SET broker_synced_revision = v.rev, broker_synced_at = %s, broker_error = ''"
                " FROM unnest(%s::bigint[], %s::int[]) AS v(id, rev) WHERE d.id = v.id AND d.broker_revision = v.rev",
                [timezone.now(), [d[0] for d in done], [d[1] for d in done]],
            )


@dataclass
class SyncResult:
    synced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    skipped: bool = False  # broker management is off (no administrator credentials)


def devices_broker_sync(*, keys) -> SyncResult:
    """Push the current state of these devices (deleted ones: removed) to the broker, now.

    Never raises: a failure is recorded on the devices (`broker_error`) and logged; the reconcile
    job repairs it."""
    keys = sorted(set(keys))
    result = SyncResult()
    if not keys:
        return result
    if not broker_managed():
        result.skipped = True
        return result
    devices = list(Device.objects.filter(key__in=keys).only("id", "key", "is_active", "mqtt_secret", "broker_revision"))
    gone = sorted(set(keys) - {d.key for d in devices})
    outcome: dict[int, tuple[int, str]] = {}
    pushes = []
    for d in devices:
        secret = _device_secret(d)
        if secret is None:
            outcome[d.id] = (d.broker_revision, ROTATION_NEEDED)
            result.errors[d.key] = ROTATION_NEEDED
        else:
            pushes.append((d, secret))
    try:
        with Dynsec() as dyn:
            problems = _device_push(dyn, pushes)
            removal = [cmd for key in gone for cmd in _device_remove(key)]
            for cmd, answer in zip(removal, dyn.run(removal) if removal else [], strict=True):
                problem = _failed(answer)
                if problem:
                    problems.setdefault(cmd.get("username") or cmd["rolename"][len(DEVICE_ROLE_PREFIX) :], problem)
    except Exception as exc:  # broker down, refused, no answer: the devices stay pending
        message = str(exc) or exc.__class__.__name__
        log.warning("MQTT broker not updated for %s device(s) (%s); the reconcile job will retry", len(keys), message)
        for d, _secret in pushes:
            outcome[d.id] = (d.broker_revision, message)
        result.errors.update({k: message for k in [d.key for d, _ in pushes] + gone})
        _mark(outcome)
        return result
    for d, _secret in pushes:
        outcome[d.id] = (d.broker_revision, problems.get(d.key, ""))
        if d.key in problems:
            result.errors[d.key] = problems[d.key]
        else:
            result.synced.append(d.key)
    result.removed = [k for k in gone if k not in problems]
    result.errors.update({k: problems[k] for k in gone if k in problems})
    if result.errors:
        log.warning("MQTT broker refused changes: %s", result.errors)
    _mark(outcome)
    return result


_pending = threading.local()


def devices_broker_sync_on_commit(*keys: str) -> None:
    """Push these devices to the broker once the current transaction commits (all the keys of
    one transaction in one round trip). Rolled-back keys are pushed with the next sync: the push
    sends the database's state, so pushing an unchanged device changes nothing."""
    pending = getattr(_pending, "keys", None)
    if pending is None:
        pending = _pending.keys = set()
    pending.update(keys)
    on_commit_once(_flush_pending)


def _flush_pending() -> None:
    keys = getattr(_pending, "keys", None)
    if not keys:
        return  # an earlier callback of the same transaction sent them
    _pending.keys = set()
    try:
        devices_broker_sync(keys=keys)
    except Exception:  # the change is committed; the devices stay pending for the reconcile job
        log.exception("MQTT broker push of %s device(s) failed", len(keys))


@dataclass
class ReconcileReport:
    created: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    service_clients: list[str] = field(default_factory=list)
    devices: int = 0

    def summary(self) -> str:
        return (
            f"{self.devices} devices: {len(self.created)} created, {len(self.repaired)} repaired, "
            f"{len(self.deleted)} deleted at the broker, {len(self.errors)} errors"
            + (f"; service clients fixed: {', '.join(self.service_clients)}" if self.service_clients else "")
        )


def _acls_equal(have: list[dict], want: list[dict]) -> bool:
    def norm(acls):
        return sorted((a["acltype"], a["topic"], bool(a.get("allow")), a.get("priority", 0)) for a in acls)

    return norm(have) == norm(want)


def _role_commands(rolename: str, have: dict | None, want: list[dict]) -> list[dict]:
    if have is None:
        return [{"command": "createRole", "rolename": rolename, "acls": want}]
    if _acls_equal(have.get("acls", []), want):
        return []
    cmds = [
        {"command": "removeRoleACL", "rolename": rolename, "acltype": a["acltype"], "topic": a["topic"]}
        for a in have.get("acls", [])
    ]
    return cmds + [dict(a, command="addRoleACL", rolename=rolename) for a in want]


def _service_clients(dyn: Dynsec, clients: dict, roles: dict, report: ReconcileReport) -> list[dict]:
    """The bridge's and the health check's clients, as the settings say."""
    cmds = _role_commands(BRIDGE_ROLE, roles.get(BRIDGE_ROLE), _bridge_acls())
    if cmds:
        report.service_clients.append(f"role {BRIDGE_ROLE}")
    wanted = [
        (settings.MQTT_USERNAME, settings.MQTT_PASSWORD, BRIDGE_ROLE),
        (settings.MQTT_HEALTH_USERNAME, settings.MQTT_HEALTH_PASSWORD, None),
    ]
    for user, password, role in wanted:
        if not user or not password or user == settings.MQTT_ADMIN_USERNAME:
            continue
        have = clients.get(user)
        role_list = [{"rolename": role}] if role else []
        if have is None:
            cmds.append({"command": "createClient", "username": user, "password": password, "roles": role_list})
            report.service_clients.append(user)
            continue
        fix = []
        if role and role not in {r["rolename"] for r in have.get("roles", [])}:
            fix.append({"command": "addClientRole", "username": user, "rolename": role})
        if have.get("disabled"):
            fix.append({"command": "enableClient", "username": user})
        if not fix and not login_works(username=user, password=password, host=dyn.host, port=dyn.port):
            fix.append({"command": "setClientPassword", "username": user, "password": password})
        elif fix:
            fix.append({"command": "setClientPassword", "username": user, "password": password})
        if fix:
            report.service_clients.append(user)
            cmds += fix
    return cmds


def service_clients_ensure(*, host: str | None = None, port: int | None = None) -> list[str]:
    """Only the bridge's and the health check's clients and the bridge's role (no database):
    what a fresh broker needs before the bridge can subscribe. Returns what it fixed."""
    report = ReconcileReport()
    with Dynsec(host=host, port=port) as dyn:
        cmds = _service_clients(dyn, dyn.list_clients(), dyn.list_roles(), report)
        for answer in dyn.run(cmds) if cmds else []:
            problem = _failed(answer)
            if problem:
                raise BrokerError(problem)
    return report.service_clients


def broker_reconcile(*, host: str | None = None, port: int | None = None) -> ReconcileReport:
    """Make the broker's clients and roles match the devices (and the service clients the
    settings name). Raises BrokerError when the broker cannot be reached or managed."""
    report = ReconcileReport()
    if not broker_managed():
        raise BrokerError("MQTT_ADMIN_USERNAME / MQTT_ADMIN_PASSWORD are not set: the broker is not managed")
    with Dynsec(host=host, port=port) as dyn:
        clients, roles = dyn.list_clients(), dyn.list_roles()
        commands: list[dict] = []
        owners: list[str | None] = []

        def add(cmds, key=None):
            commands.extend(cmds)
            owners.extend([key] * len(cmds))

        add(_service_clients(dyn, clients, roles, report))
        protected = {settings.MQTT_ADMIN_USERNAME, settings.MQTT_USERNAME, settings.MQTT_HEALTH_USERNAME}
        devices = Device.objects.only(
            "id", "key", "is_active", "mqtt_secret", "broker_revision", "broker_synced_revision", "broker_error"
        )
        known = set()
        outcome: dict[int, tuple[int, str]] = {}
        touched: dict[str, int] = {}
        creates, updates = [], []
        for d in devices.iterator(chunk_size=2000):
            report.devices += 1
            key, role = d.key, device_role(d.key)
            known.add(key)
            have = clients.get(key)
            pending = d.broker_synced_revision != d.broker_revision
            cmds = _role_commands(role, roles.get(role), _device_acls(key)) if role in roles or have else []
            if pending or d.broker_error:  # the others are recorded only if something fails
                outcome[d.id] = (d.broker_revision, "")
            touched[key] = d.id
            if have is None or pending:
                secret = _device_secret(d)
                if secret is None:
                    outcome[d.id] = (d.broker_revision, ROTATION_NEEDED)
                    report.errors[key] = ROTATION_NEEDED
                    continue
                if have is None:
                    report.created.append(key)
                    creates.append((d, secret))
                else:
                    report.repaired.append(key)
                    updates.append((d, secret))
            else:
                has_roles = {r["rolename"] for r in have.get("roles", [])}
                cmds += [
                    {"command": "removeClientRole", "username": key, "rolename": r} for r in sorted(has_roles - {role})
                ]
                if role not in has_roles:
                    cmds.append({"command": "addClientRole", "username": key, "rolename": role})
                if bool(have.get("disabled")) == d.is_active:
                    cmds.append({"command": "enableClient" if d.is_active else "disableClient", "username": key})
                if cmds:
                    report.repaired.append(key)
            add(cmds, key)
        # Clients and roles of devices that no longer exist.
        for username, c in clients.items():
            if username in known or username in protected:
                continue
            if device_role(username) in {r["rolename"] for r in c.get("roles", [])}:
                add([{"command": "deleteClient", "username": username}], username)
                report.deleted.append(username)
        for rolename in roles:
            if rolename.startswith(DEVICE_ROLE_PREFIX) and rolename[len(DEVICE_ROLE_PREFIX) :] not in known:
                add([{"command": "deleteRole", "rolename": rolename}])
        answers = dyn.run(commands) if commands else []
        problems = _device_push(dyn, creates, exist=False) if creates else {}
        problems.update(_device_push(dyn, updates, exist=True) if updates else {})
    for key, answer in zip(owners, answers, strict=True):
        problem = _failed(answer)
        if problem is None:
            continue
        if key is None:
            report.errors["(service)"] = problem
        else:
            problems.setdefault(key, problem)
    for key, problem in problems.items():
        report.errors.setdefault(key, problem)
        if key in touched:
            outcome[touched[key]] = (0, problem)
    _mark(outcome)
    if report.errors:
        log.warning("MQTT reconcile: errors %s", report.errors)
    return report


__all__ = [
    "BrokerError",
    "Dynsec",
    "ReconcileReport",
    "SyncResult",
    "broker_managed",
    "broker_reconcile",
    "device_role",
    "device_topic",
    "devices_broker_sync",
    "devices_broker_sync_on_commit",
    "login_works",
    "mqtt_client_credentials",
    "service_clients_ensure",
]
