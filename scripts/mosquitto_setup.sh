#!/usr/bin/env bash
# Install the broker settings the MQTT bridge relies on (deploy/mosquitto/cityos.conf: persistence,
# queue and in-flight limits) into the system Mosquitto, idempotently:
#   - copy it to /etc/mosquitto/conf.d/cityos.conf (only when it differs), after a trial run of a
#     private broker with it (a broken file never reaches the system broker);
#   - make sure /etc/mosquitto/mosquitto.conf includes /etc/mosquitto/conf.d (Debian's does);
#   - give the broker a persistence location owned by its user (sessions survive a restart);
#   - if something changed and the broker runs, restart it: SIGTERM (it saves its sessions and
#     queued messages to disk), then `mosquitto -d -c mosquitto.conf` (systemd: `systemctl restart
#     mosquitto`). About a second without a broker; clients reconnect. (A SIGHUP reload is not
#     enough: Mosquitto 2.0.11 logs the new file but keeps max_queued_messages at 1,000.)
#   - device authentication (deploy/mosquitto/cityos-auth.conf): the dynamic-security plugin
#     with anonymous access off. On first run it creates dynamic-security.json (in the broker's
#     persistence location, which the broker must be able to rewrite) with an administrator
#     (cityos-admin), the bridge's client (cityos-bridge, may subscribe to cityos/+/telemetry,
#     plain or shared) and the health check's (cityos-health), with random passwords, set up
#     through a private trial broker; the credentials go to $ETC/cityos-credentials.env (root
#     only), which CityOS's settings read. Devices are added by CityOS itself (after migrate,
#     bootstrap runs `manage.py mqtt_reconcile`).
# Nothing changed: nothing is touched. CITYOS_MOSQUITTO_ETC and MQTT_PORT point it at another
# broker (a private copy to try it on).
set -euo pipefail
cd "$(dirname "$0")/.."
ETC=${CITYOS_MOSQUITTO_ETC:-/etc/mosquitto}
PORT=${MQTT_PORT:-1883}
CONF="$ETC/mosquitto.conf"
log() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*"; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# The last value of an option in mosquitto.conf and the included files (read after it).
conf_value() { { cat "$CONF"; cat "$ETC"/conf.d/*.conf 2>/dev/null || true; } | awk -v k="$1" '$1 == k { v = $2 } END { print v }'; }

if [ ! -f "$CONF" ]; then
  log "no $CONF: Mosquitto runs on its defaults; not installing deploy/mosquitto/cityos.conf"
  exit 0
fi
# A private broker on a free port with cityos.conf: does Mosquitto accept the file?
trial() {
  local dir port pid ok=1
  dir=$(mktemp -d)
  chmod 777 "$dir"
  port=$((20000 + RANDOM % 20000))
  { cat deploy/mosquitto/cityos.conf; printf '\nlistener %s 127.0.0.1\nallow_anonymous true\npersistence_location %s/\n' "$port" "$dir"; } >"$dir/trial.conf"
  mosquitto -c "$dir/trial.conf" >"$dir/trial.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do if port_open "$port" && kill -0 "$pid" 2>/dev/null; then ok=0; break; fi; sleep 0.1; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$ok" = 0 ] || cat "$dir/trial.log" >&2
  rm -rf "$dir"
  return "$ok"
}

settings_of() { grep -Ev '^[[:space:]]*(#|$)' "$1" 2>/dev/null || true; }

changed=""
$SUDO mkdir -p "$ETC/conf.d"
if ! cmp -s deploy/mosquitto/cityos.conf "$ETC/conf.d/cityos.conf"; then
  trial || { echo "Mosquitto refuses deploy/mosquitto/cityos.conf (above): not installed" >&2; exit 1; }
  log "installing $ETC/conf.d/cityos.conf"
  # A new comment is no reason to restart the broker.
  [ "$(settings_of deploy/mosquitto/cityos.conf)" = "$(settings_of "$ETC/conf.d/cityos.conf")" ] || changed=1
  $SUDO install -m 0644 deploy/mosquitto/cityos.conf "$ETC/conf.d/cityos.conf"
fi
if ! grep -Eq "^[[:space:]]*include_dir[[:space:]]+$ETC/conf.d/?[[:space:]]*$" "$CONF"; then
  log "adding include_dir $ETC/conf.d to $CONF"
  # At the end: mosquitto.conf(5) advises it, and the included values then win over earlier ones.
  printf '\n# CityOS (scripts/mosquitto_setup.sh): settings the MQTT bridge relies on\ninclude_dir %s/conf.d\n' "$ETC" \
    | $SUDO tee -a "$CONF" >/dev/null
  changed=1
fi
# Without a persistence_location Mosquitto writes its database to whatever directory it was
# started from; Debian's package sets /var/lib/mosquitto/.
LOCATION=$(conf_value persistence_location)
if [ -z "$LOCATION" ]; then
  LOCATION=/var/lib/mosquitto/
  log "setting persistence_location $LOCATION ($ETC/conf.d/cityos-persistence.conf)"
  printf 'persistence_location %s\n' "$LOCATION" | $SUDO tee "$ETC/conf.d/cityos-persistence.conf" >/dev/null
  changed=1
fi
# Started as root, Mosquitto drops to its user (option `user`, default mosquitto), which must be
# able to write the persistence file.
BROKER_USER=$(conf_value user); BROKER_USER=${BROKER_USER:-mosquitto}
$SUDO mkdir -p "$LOCATION"
if id "$BROKER_USER" >/dev/null 2>&1 && [ "$(stat -c %U "$LOCATION")" != "$BROKER_USER" ]; then
  log "giving $LOCATION to $BROKER_USER"
  $SUDO chown "$BROKER_USER": "$LOCATION"
fi

# --- Device authentication: the dynamic-security plugin, anonymous access off ----------------------
PLUGIN=$(ls /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so 2>/dev/null | head -1 || true)
CREDS="$ETC/cityos-credentials.env"
DYNSEC="${LOCATION%/}/dynamic-security.json"
if [ -z "$PLUGIN" ]; then
  echo "Mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so) is missing: devices cannot be authenticated" >&2
  exit 1
fi
random_password() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n'; }
# A private broker on a free port with cityos.conf, the auth settings and a copy of the plugin's
# file; runs "$@" (with $TRIAL_PORT set) while it is up. The copy comes back in $TRIAL_DIR.
with_trial_broker() {
  local json=$1; shift
  local pid ok=1
  TRIAL_DIR=$(mktemp -d)
  chmod 777 "$TRIAL_DIR"
  cp "$json" "$TRIAL_DIR/dynamic-security.json"
  chmod 666 "$TRIAL_DIR/dynamic-security.json"
  TRIAL_PORT=$((20000 + RANDOM % 20000))
  { cat deploy/mosquitto/cityos.conf
    sed -e "s|@PLUGIN@|$PLUGIN|" -e "s|@CONFIG@|$TRIAL_DIR/dynamic-security.json|" deploy/mosquitto/cityos-auth.conf
    printf '\nlistener %s 127.0.0.1\npersistence_location %s/\n' "$TRIAL_PORT" "$TRIAL_DIR"
  } >"$TRIAL_DIR/trial.conf"
  mosquitto -c "$TRIAL_DIR/trial.conf" >"$TRIAL_DIR/trial.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do if port_open "$TRIAL_PORT" && kill -0 "$pid" 2>/dev/null; then ok=0; break; fi; sleep 0.1; done
  if [ "$ok" = 0 ]; then "$@" || ok=1; fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$ok" = 0 ] || cat "$TRIAL_DIR/trial.log" >&2
  return "$ok"
}
ctrl() {  # mosquitto_ctrl on the trial broker; its warning about the plain local connection hidden
  local out
  out=$(mosquitto_ctrl -h 127.0.0.1 -p "$TRIAL_PORT" -u cityos-admin -P "$ADMIN_PW" dynsec "$@" 2>&1) \
    || { printf 'mosquitto_ctrl dynsec %s: %s\n' "$1" "$out" >&2; return 1; }
}
dynsec_setup() {  # on the trial broker: the bridge's role and client, the health check's client
  # (Called in an `||` list, where set -e does not apply: each step says so itself.)
  ctrl createRole cityos-bridge || return 1
  ctrl addRoleACL cityos-bridge subscribePattern 'cityos/+/telemetry' allow || return 1
  ctrl addRoleACL cityos-bridge subscribePattern '$share/+/cityos/+/telemetry' allow || return 1
  ctrl createClient cityos-bridge -p "$BRIDGE_PW" || return 1
  ctrl addClientRole cityos-bridge cityos-bridge || return 1
  ctrl createClient cityos-health -p "$HEALTH_PW" || return 1
  # Check: the bridge may subscribe, anonymous clients are refused.
  mosquitto_sub -h 127.0.0.1 -p "$TRIAL_PORT" -u cityos-bridge -P "$BRIDGE_PW" -t 'cityos/+/telemetry' -W 1 -C 1 >/dev/null 2>&1 \
    || [ $? = 27 ] || { echo "the bridge's client cannot subscribe on the trial broker" >&2; return 1; }
  if mosquitto_pub -h 127.0.0.1 -p "$TRIAL_PORT" -t cityos/x/telemetry -m '{}' >/dev/null 2>&1; then
    echo "the trial broker accepted an anonymous client" >&2; return 1
  fi
}
if [ ! -s "$CREDS" ] || ! $SUDO test -s "$DYNSEC"; then
  if $SUDO test -s "$DYNSEC"; then
    # A file whose administrator we do not know: keep it aside and start afresh (CityOS's
    # reconcile puts the devices back; their secrets are in its database).
    log "no $CREDS for the existing $DYNSEC: keeping it as $DYNSEC.orphaned and creating a new one"
    $SUDO mv "$DYNSEC" "$DYNSEC.orphaned"
  fi
  log "creating $DYNSEC (dynamic security: cityos-admin, cityos-bridge, cityos-health; anonymous off)"
  ADMIN_PW=$(random_password); BRIDGE_PW=$(random_password); HEALTH_PW=$(random_password)
  WORK=$(mktemp -d)
  mosquitto_ctrl dynsec init "$WORK/dynamic-security.json" cityos-admin "$ADMIN_PW" >/dev/null
  with_trial_broker "$WORK/dynamic-security.json" dynsec_setup \
    || { rm -rf "$WORK" "$TRIAL_DIR"; echo "could not prepare the dynamic-security file (above)" >&2; exit 1; }
  BROKER_USER_OK=$(id "$BROKER_USER" >/dev/null 2>&1 && echo 1 || true)
  $SUDO install -m 0600 ${BROKER_USER_OK:+-o "$BROKER_USER"} "$TRIAL_DIR/dynamic-security.json" "$DYNSEC"
  rm -rf "$WORK" "$TRIAL_DIR"
  umask_old=$(umask); umask 077
  printf '# CityOS broker credentials (scripts/mosquitto_setup.sh); read by cityos/settings/base.py\nMQTT_ADMIN_USERNAME=cityos-admin\nMQTT_ADMIN_PASSWORD=%s\nMQTT_USERNAME=cityos-bridge\nMQTT_PASSWORD=%s\nMQTT_HEALTH_USERNAME=cityos-health\nMQTT_HEALTH_PASSWORD=%s\n' \
    "$ADMIN_PW" "$BRIDGE_PW" "$HEALTH_PW" | $SUDO tee "$CREDS" >/dev/null
  umask "$umask_old"
  $SUDO chmod 0600 "$CREDS"
  changed=1
fi
AUTH_CONF=$(sed -e "s|@PLUGIN@|$PLUGIN|" -e "s|@CONFIG@|$DYNSEC|" deploy/mosquitto/cityos-auth.conf)
if [ "$AUTH_CONF" != "$(cat "$ETC/conf.d/cityos-auth.conf" 2>/dev/null)" ]; then
  # Does Mosquitto accept it (with a copy of the real plugin file)?
  TMPJSON=$(mktemp); $SUDO cat "$DYNSEC" >"$TMPJSON"
  with_trial_broker "$TMPJSON" true || { rm -rf "$TMPJSON" "$TRIAL_DIR"; echo "Mosquitto refuses deploy/mosquitto/cityos-auth.conf (above)" >&2; exit 1; }
  rm -rf "$TMPJSON" "$TRIAL_DIR"
  log "installing $ETC/conf.d/cityos-auth.conf (device authentication, anonymous access off)"
  [ "$(printf '%s\n' "$AUTH_CONF" | grep -Ev '^[[:space:]]*(#|$)')" = "$(settings_of "$ETC/conf.d/cityos-auth.conf")" ] || changed=1
  printf '%s\n' "$AUTH_CONF" | $SUDO tee "$ETC/conf.d/cityos-auth.conf" >/dev/null
fi

if [ -z "$changed" ] || ! port_open "$PORT"; then
  exit 0  # unchanged, or not running (bootstrap starts it with $CONF next)
fi
if [ -d /run/systemd/system ] && systemctl is-active --quiet mosquitto 2>/dev/null; then
  log "restarting Mosquitto (systemctl restart mosquitto) to apply the settings"
  $SUDO systemctl restart mosquitto
else
  PIDFILE=$(conf_value pid_file)
  PID=""
  if [ -n "$PIDFILE" ] && [ -s "$PIDFILE" ] && $SUDO kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    PID=$(cat "$PIDFILE")
  else
    PID=$(pgrep -f "^mosquitto .*-c $CONF\$" | head -1 || true)
  fi
  if [ -z "$PID" ]; then
    log "the broker on port $PORT was not started from $CONF: restart it yourself to apply the settings"
    exit 0
  fi
  log "restarting Mosquitto (pid $PID) to apply the settings: SIGTERM, then mosquitto -d -c $CONF"
  $SUDO kill -TERM "$PID"
  for _ in $(seq 1 100); do $SUDO kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  $SUDO mosquitto -d -c "$CONF"
fi
for _ in $(seq 1 50); do port_open "$PORT" && exit 0; sleep 0.1; done
echo "Mosquitto did not come back on port $PORT" >&2
exit 1
