#!/usr/bin/env bash
# Start the local PostgreSQL and Redis if they are not answering (tests never fake them).
set -euo pipefail
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
# The development database the demo and manage.py use (tests create their own).
psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='relist'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE relist" >/dev/null
