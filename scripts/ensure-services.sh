#!/usr/bin/env bash
# Start the local PostgreSQL and Redis if they are installed and not answering (the tests need
# them and never fake them), and install pgbouncer if it is missing. On a machine without
# PostgreSQL or Redis, the demo embeds its own.
set -uo pipefail
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
  else
    echo "ensure-services: no PostgreSQL installed here" >&2
  fi
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
  else
    echo "ensure-services: no Redis installed here" >&2
  fi
fi
# pgbouncer (transaction mode) sits in front of PostgreSQL for the Procfile's processes and is
# exercised by tests/integration/test_pgbouncer.py; Debian installs it in /usr/sbin.
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    (apt-get install -y -q pgbouncer >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q pgbouncer >/dev/null 2>&1; }) \
      || echo "ensure-services: could not install pgbouncer" >&2
    # The package's own service (port 6432) is not ours: the system starts its own.
    command -v systemctl >/dev/null 2>&1 && systemctl disable --now pgbouncer >/dev/null 2>&1
  else
    echo "ensure-services: pgbouncer missing (sudo apt-get install pgbouncer)" >&2
  fi
fi
exit 0
