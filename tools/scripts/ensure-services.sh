#!/usr/bin/env bash
# Makes sure NATS (JetStream), Redis and PostgreSQL (wal_level=logical) answer on 127.0.0.1,
# starting each from the machine's Debian packages when it is down. Idempotent and quick when
# everything already runs.
set -euo pipefail

NATS_PORT="${NATS_PORT:-4222}"
REDIS_PORT="${REDIS_PORT:-6379}"
PGPORT="${PGPORT:-5432}"

log() { printf '%-10s %s\n' "$1:" "$2"; }
die() { printf 'ensure-services: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name, probe command...
  local name=$1; shift
  for _ in $(seq 1 150); do "$@" && return 0; sleep 0.2; done
  die "$name did not come up within 30 s"
}

apt_install() {
  command -v apt-get >/dev/null || die "$1 is missing and apt-get is not available"
  log "$1" "installing $2 from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

nats_jetstream() {
  local info
  info=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$NATS_PORT; IFS= read -r line <&3; printf '%s' \"\$line\"" 2>/dev/null) || return 1
  [[ $info == *'"jetstream":true'* ]]
}

# --- NATS with JetStream
if nats_jetstream; then
  log nats "already running on $NATS_PORT"
else
  port_open "$NATS_PORT" && die "port $NATS_PORT answers but is not NATS with JetStream enabled"
  command -v nats-server >/dev/null || apt_install nats nats-server
  store="${NATS_STORE_DIR:-/var/lib/nats-server}"
  mkdir -p "$store"
  start-stop-daemon --start --oknodo --background --make-pidfile --pidfile "/tmp/tributary-nats-$NATS_PORT.pid" \
    --exec "$(command -v nats-server)" -- \
    -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$store" -l "${NATS_LOG:-/var/log/nats-server.log}"
  wait_for nats nats_jetstream
  log nats "started on $NATS_PORT"
fi

# --- Redis
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
command -v redis-server >/dev/null || apt_install redis redis-server
if redis_up; then
  log redis "already running on $REDIS_PORT"
else
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for redis redis_up
  log redis "started on $REDIS_PORT"
fi

# --- PostgreSQL with logical replication
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n1; }
pg_up() { pg_isready -q -h 127.0.0.1 -p "$PGPORT"; }
# As root, talk to the server as the postgres OS user over the socket (peer auth works on a
# fresh Debian cluster, whose TCP rules want a password); otherwise over TCP.
psql_c() {
  if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
    # From /: the postgres user may not be allowed into the current directory.
    (cd / && runuser -u postgres -- psql -p "$PGPORT" -Atqc "$1")
  else
    psql -h 127.0.0.1 -p "$PGPORT" -U postgres -Atqc "$1"
  fi
}
[ -n "$(pg_version)" ] || apt_install postgresql postgresql-15
version=$(pg_version)
if pg_up; then
  log postgresql "already running on $PGPORT"
else
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_for postgresql pg_up
  log postgresql "started on $PGPORT"
fi
# Tests and the stream ingest connect as postgres over 127.0.0.1, replication included. The first
# matching pg_hba rule wins, so the trust rules go on top (Debian's defaults ask for a password).
hba="/etc/postgresql/$version/main/pg_hba.conf"
if [ -w "$hba" ]; then
  changed=0
  for rule in 'host all postgres 127.0.0.1/32 trust' 'host replication all 127.0.0.1/32 trust'; do
    if ! grep -Eq "^$(sed 's/ /\\s+/g; s/\./\\./g' <<<"$rule")\s*$" "$hba"; then
      sed -i "1i $rule" "$hba"
      changed=1
    fi
  done
  if [ "$changed" = 1 ]; then
    psql_c 'SELECT pg_reload_conf()' >/dev/null
    log postgresql "trust for postgres and replication from 127.0.0.1"
  fi
fi
if [ "$(psql_c 'SHOW wal_level')" != logical ]; then
  psql_c 'ALTER SYSTEM SET wal_level = logical' >/dev/null
  pg_ctlcluster --skip-systemctl-redirect "$version" main restart
  wait_for postgresql pg_up
  log postgresql "restarted with wal_level=logical"
fi
