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
