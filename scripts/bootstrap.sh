#!/usr/bin/env bash
# Idempotent setup of everything CityOS needs on Debian 12: system packages, running services,
# database role + PostGIS, the virtualenv, front-end libraries, translations and migrations.
# Running it twice changes nothing (each step checks first; stamps skip unchanged installs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${CITYOS_VENV:-$ROOT/.venv}
DB_NAME=${CITYOS_DB_NAME:-cityos}
DB_USER=${CITYOS_DB_USER:-cityos}
log() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*"; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

# 1. Debian packages (only the missing ones; apt-get update once, and only if needed).
PKGS="postgresql-15 postgresql-15-postgis-3 gdal-bin redis-server mosquitto mosquitto-clients chromium gettext fonts-wqy-microhei"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# Node.js may come from another packaging (with npm built in): only install Debian's when absent.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
  log "installing Debian packages:$missing"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi

# 2. Services: start whatever is down (no systemd on these machines).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 50); do port_open "$1" && return 0; sleep 0.2; done; echo "port $1 did not open" >&2; return 1; }
if ! port_open 5432; then
  log "starting PostgreSQL"
  $SUDO pg_ctlcluster --skip-systemctl-redirect 15 main start || $SUDO pg_ctlcluster 15 main start
  wait_port 5432
fi
if ! port_open 6379; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_port 6379
fi
# The broker settings the MQTT bridge relies on (persistence, queue limits) and device
# authentication (dynamic security, anonymous off), restarting a running broker only when they change.
bash scripts/mosquitto_setup.sh
if ! port_open 1883; then
  log "starting Mosquitto"
  if [ -f /etc/mosquitto/mosquitto.conf ]; then mosquitto -d -c /etc/mosquitto/mosquitto.conf; else mosquitto -d; fi
  wait_port 1883
fi

# 3. Database role (superuser: the test runner creates the PostGIS extension in its test database)
#    and the database with PostGIS. Peer auth as the postgres OS user works on any Debian install.
psql_admin() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtA "$@"; else sudo -u postgres psql -v ON_ERROR_STOP=1 -qtA "$@"; fi; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'")" != 1 ]; then
  log "creating database role $DB_USER"
  psql_admin -c "CREATE ROLE $DB_USER LOGIN SUPERUSER"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'")" != 1 ]; then
  log "creating database $DB_NAME"
  psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
fi
psql_admin -d "$DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS postgis" 2>&1 | grep -v 'already exists' || true
# Group commit for concurrent durable commits (deploy/postgresql/group_commit.sql; idempotent).
psql_admin -d "$DB_NAME" -f - < deploy/postgresql/group_commit.sql
# Local connections over TCP must be allowed for the role (trust on the project's machines; add a
# pg_hba line on a stock Debian install, where host connections need a password).
if ! psql -h 127.0.0.1 -U "$DB_USER" -d "$DB_NAME" -qtAc 'SELECT 1' >/dev/null 2>&1; then
  HBA=$(psql_admin -c 'SHOW hba_file')
  log "allowing trust auth for $DB_USER on 127.0.0.1 in $HBA"
  sed -i "1i host all $DB_USER 127.0.0.1/32 trust" "$HBA"
  psql_admin -c 'SELECT pg_reload_conf()' >/dev/null
fi

# 4. Python virtualenv (reinstalled only when requirements.txt changes).
if [ ! -x "$VENV/bin/python" ]; then log "creating virtualenv $VENV"; python3 -m venv "$VENV"; fi
REQ_SUM=$(cat requirements.txt requirements-nodeps.txt | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.requirements-sum" 2>/dev/null)" != "$REQ_SUM" ]; then
  log "installing Python requirements"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
  echo "$REQ_SUM" > "$VENV/.requirements-sum"
fi

# 5. Front-end libraries from the npm registry, served locally (no CDN).
PKG_SUM=$(cat package.json package-lock.json | sha256sum | cut -c1-16)
if [ "$(cat node_modules/.cityos-sum 2>/dev/null)" != "$PKG_SUM" ] || [ ! -f cityos/static/vendor/htmx.min.js ]; then
  log "installing front-end libraries (npm ci)"
  npm ci --silent --no-audit --no-fund
  echo "$PKG_SUM" > node_modules/.cityos-sum
  V=cityos/static/vendor; mkdir -p "$V/leaflet/images"
  cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$V/leaflet/"
  cp node_modules/leaflet/dist/images/* "$V/leaflet/images/"
  cp node_modules/echarts/dist/echarts.min.js "$V/"
  cp node_modules/htmx.org/dist/htmx.min.js "$V/"
fi

# 6. Translations, migrations.
mkdir -p var/static var/media
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-cityos.settings.local}
"$VENV/bin/python" manage.py compilemessages -v 0 --ignore '.venv/*' --ignore 'node_modules/*'
"$VENV/bin/python" manage.py migrate --noinput -v 0
# 7. Registered devices as MQTT broker clients (after a fresh or replaced broker), and the
#    bridge's and health check's clients; nothing to do when the broker is not managed.
"$VENV/bin/python" manage.py mqtt_reconcile --if-managed \
  || log "MQTT reconcile failed (above): devices may not log in until the beat job repairs it"
log "ready"
