"""Benchmarks of the execution engine (DESIGN §6). They print figures; they are never timed tests.

    .venv/bin/python -m bench            # everything, 10,000 jobs per throughput run
    .venv/bin/python -m bench --quick    # a smaller run
    .venv/bin/python -m bench --jobs 2000 --phases a,b,c

Everything runs on a dedicated database (`relist_bench`, dropped and re-created each run) and
dedicated Redis databases (8: broker, 9: REDIS_URL), flushed at start, so dev and test data are
never touched. The eBay sandbox and the Celery workers are real subprocesses.

    .venv/bin/python -m bench relay      # the extension relay round trip (bench/relay.py)

    .venv/bin/python -m bench tenants    # many tenants: provisioning, migrations (bench/tenants.py)

The tenants bench re-creates `relist_bench_tenants` each run and needs no Redis or worker.
The relay bench has its own database (`relist_bench_relay`, kept between runs unless --fresh)
and Redis db 7; daphne and the extension simulators are real subprocesses.

    .venv/bin/python -m bench sales      # sale -> delisted everywhere, 20 then 100 tenants

The sales bench (bench/sales.py) re-creates `relist_bench_sales`, uses Redis dbs 12/13 (of
--redis), and starts the sandboxes, daphne, a simulator per tenant, the workers and beat.
"""
