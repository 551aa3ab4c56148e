"""Operational helpers: a transaction-mode pgbouncer in front of PostgreSQL (pgbouncer.py) and
a supervisor that restarts a process that died (supervise.py). See docs/operations.md."""
