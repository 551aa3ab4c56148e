"""Many tenants (DESIGN §6): `python -m bench tenants [--levels 100,1000] [--processes 2]`.

At each level (tenants in the database) it measures:
- provisioning per tenant (tenants.services.tenant_provision, one transaction), p50 / p95 / max:
  20 tenants by clone of the template (no spare left), the rest from spare schemas (a rename),
  and the cost of cloning a spare (off the request path); once, the paths it replaces for
  comparison (django-tenants' CREATE SCHEMA + migrate_schemas, and its PL/pgSQL clone_schema);
- `manage.py migrate_tenants` with nothing to apply: trusting the state rows in public (the
  default), and with --verify (one query on each schema's django_migrations);
- `manage.py migrate_tenants` applying one new nullable column to every tenant: a temporary
  migration (AddField on batches.BatchJob) in a copy of the batches migrations package, picked
  up by a child process through MIGRATION_MODULES; the database is thrown away afterwards;
- the cost of visiting every schema once (set search_path + one count), the access pattern
  that grows with N;
- django-tenants' `migrate_schemas --tenant` with nothing to apply, at levels up to
  --baseline-max (default 100: it grows with N², minutes at 1,000).

Past the largest level it extrapolates linearly to 3,000 and 10,000 tenants, and says so.
Its own database (relist_bench_tenants, re-created each run); no Redis, no workers.
"""

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.database import migrate_shared, recreate_database
from bench.env import ROOT, BenchEnv
from bench.report import rule, say

ENV = BenchEnv(database="relist_bench_tenants", broker_db=11, redis_db=11)
SCHEMA = "bench_t{n:05d}"
EXTRAPOLATE_TO = (3000, 10_000)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench tenants", description=__doc__)
    parser.add_argument("--levels", default="100,1000", help="tenant counts, ascending")
    parser.add_argument("--processes", type=int, default=2, help="migrate_tenants --processes")
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=100,
        help="time django-tenants' migrate_schemas (no-op) at levels up to this (0: never)",
    )
    return parser.parse_args(argv)


def _manage(
    *args: str, extra: dict[str, str] | None = None, batches_migrations: str = ""
) -> tuple[float, str]:
    """A management command in a child process; with `batches_migrations`, through _child()."""
    started = time.perf_counter()
    entry = ["manage.py"] if not batches_migrations else ["-m", "bench.tenants", batches_migrations]
    result = subprocess.run(
        [sys.executable, *entry, *args],
        cwd=ROOT,
        env=ENV.for_subprocess({"LOG_LEVEL": "WARNING", **(extra or {})}),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return time.perf_counter() - started, result.stdout


def _inner_seconds(output: str) -> float:
    """The run's own time as migrate_tenants prints it (without Python and Django start-up)."""
    return float(re.findall(r"failed in ([\d.]+)s", output)[-1])


def _provision(start: int, stop: int) -> list[float]:
    from tenants.services import tenant_provision  # noqa: PLC0415 - after django.setup()

    seconds = []
    for n in range(start, stop):
        began = time.perf_counter()
        tenant_provision(schema_name=SCHEMA.format(n=n), name=f"Bench {n}")
        seconds.append(time.perf_counter() - began)
    return seconds


def _old_paths() -> dict[str, float]:
    """One tenant each way django-tenants provisions, for comparison."""
    from django.core.management import call_command  # noqa: PLC0415
    from django.db import connection  # noqa: PLC0415
    from django_tenants.clone import CloneSchema  # noqa: PLC0415

    figures = {}
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA bench_old_migrated")
    call_command(
        "migrate_schemas", schema_name="bench_old_migrated", interactive=False, verbosity=0
    )
    figures["django-tenants: CREATE SCHEMA + migrate_schemas"] = time.perf_counter() - began
    connection.set_schema_to_public()
    began = time.perf_counter()
    CloneSchema().clone_schema("bench_old_migrated", "bench_old_cloned", "DATA")
    figures["django-tenants: clone_schema (PL/pgSQL)"] = time.perf_counter() - began
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA bench_old_migrated CASCADE")
        cursor.execute("DROP SCHEMA bench_old_cloned CASCADE")
    return figures


def _visit_all() -> float:
    """Every schema once: what any per-tenant loop (a full sweep, django-tenants' migrate)
    pays before doing work."""
    from django.db import connection  # noqa: PLC0415

    from tenants.models import Tenant  # noqa: PLC0415

    began = time.perf_counter()
    for tenant in Tenant.objects.exclude(schema_name="public").iterator():
        connection.set_tenant(tenant)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM marketplace_marketplacejob")
    connection.set_schema_to_public()
    return time.perf_counter() - began


def _column_migration(tag: str, workdir: Path) -> str:
    """A copy of the batches migrations plus one AddField (nullable); returns the module."""
    from django.db.migrations.loader import MigrationLoader  # noqa: PLC0415

    leaf = next(name for app, name in MigrationLoader(None).graph.leaf_nodes() if app == "batches")
    package = workdir / f"bench_batches_{tag}"
    shutil.copytree(ROOT / "batches" / "migrations", package)
    (package / f"9000_bench_probe_{tag}.py").write_text(
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = [('batches', '{leaf}')]\n"
        "    operations = [migrations.AddField('batchjob', 'bench_probe_"
        f"{tag}', models.TextField(null=True))]\n"
    )
    return package.name


def _percentiles(prefix: str, seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        f"{prefix} p50 ms": statistics.median(ordered) * 1000,
        f"{prefix} p95 ms": ordered[max(0, round(len(ordered) * 0.95) - 1)] * 1000,
        f"{prefix} max ms": ordered[-1] * 1000,
    }


def _level(level: int, have: int, opts: argparse.Namespace, workdir: Path) -> dict[str, float]:
    from tenants.cloning import spare_schemas_fill  # noqa: PLC0415 - after django.setup()

    cloned = min(20, level - have)
    say(f"provisioning tenants {have + 1}…{have + cloned} by clone (no spare left)")
    figures = _percentiles("provision by clone", _provision(have, have + cloned))
    spares = level - have - cloned
    say(f"cloning {spares} spare schemas (off the request path), then provisioning from them")
    began = time.perf_counter()
    spare_schemas_fill(size=spares, timeout_s=60)
    figures["spare clone, per schema ms"] = (time.perf_counter() - began) / max(1, spares) * 1000
    figures.update(_percentiles("provision from spare", _provision(have + cloned, level)))
    migrate = ["migrate_tenants", "--skip-public", "--spares", "0"]
    migrate += ["--processes", str(opts.processes)]
    _manage(*migrate)  # settles the state rows a previous level's column run left behind
    wall, out = _manage(*migrate)
    figures["no-op migrate (state rows) s"] = _inner_seconds(out)
    figures["no-op migrate, process wall s"] = wall
    wall, out = _manage(*migrate, "--verify")
    figures["no-op migrate --verify s"] = _inner_seconds(out)
    figures["visit every schema s"] = _visit_all()
    if level <= opts.baseline_max:
        wall, _ = _manage("migrate_schemas", "--tenant", "-v", "0")
        figures["django-tenants migrate_schemas no-op s"] = wall
    module = _column_migration(str(level), workdir)
    wall, out = _manage(
        *migrate, extra={"PYTHONPATH": f"{workdir}:{ROOT}"}, batches_migrations=module
    )
    figures["one nullable column migrate s"] = _inner_seconds(out)
    return figures


def _report(results: dict[int, dict[str, float]]) -> None:
    rule("figures (times per level)")
    levels = sorted(results)
    names = list(results[levels[0]])
    say(f"{'':42}" + "".join(f"{level:>12,}" for level in levels))
    for name in names:
        say(f"{name:42}" + "".join(f"{results[level].get(name, 0):>12.3f}" for level in levels))
    rule("per tenant, and EXTRAPOLATED (linear from the largest level)")
    top = levels[-1]
    for name in (
        "no-op migrate --verify s",
        "visit every schema s",
        "one nullable column migrate s",
    ):
        per = [results[level][name] / level * 1000 for level in levels]
        line = ", ".join(f"{p:.2f} ms @{level:,}" for p, level in zip(per, levels, strict=True))
        guesses = ", ".join(
            f"~{results[top][name] / top * n:.0f} s @{n:,} (extrapolated)" for n in EXTRAPOLATE_TO
        )
        say(f"{name}: {line}; {guesses}")
    say(
        "no-op migrate (state rows) is one query whatever N: "
        + ", ".join(f"{results[lv]['no-op migrate (state rows) s']:.3f} s @{lv:,}" for lv in levels)
    )


def main(argv: list[str] | None = None) -> int:
    opts = _parse(argv)
    levels = [int(level) for level in opts.levels.split(",")]
    ENV.apply()
    os.environ["LOG_LEVEL"] = "WARNING"
    say(f"host {platform.node()}, {os.cpu_count()} cpus, load {os.getloadavg()}")
    recreate_database(ENV.database)
    migrate_shared(ENV.for_subprocess())
    import django  # noqa: PLC0415 - configured by ENV.apply()

    django.setup()
    rule("provisioning, the paths it replaces (one tenant each)")
    for name, seconds in _old_paths().items():
        say(f"{name}: {seconds * 1000:.0f} ms")
    first = _provision(0, 1)[0]
    say(f"first tenant, template built (migrated + dumped) on the way: {first * 1000:.0f} ms")
    results: dict[int, dict[str, float]] = {}
    have = 1
    with tempfile.TemporaryDirectory(prefix="relist-bench-tenants-") as workdir:
        for level in levels:
            rule(f"{level:,} tenants (load {os.getloadavg()})")
            results[level] = _level(level, have, opts, Path(workdir))
            for name, value in results[level].items():
                say(f"  {name}: {value:.3f}")
            have = level
    _report(results)
    say(f"load average at the end: {os.getloadavg()}")
    return 0


def _child(module: str, args: list[str]) -> None:
    """`python -m bench.tenants <migrations module> <command> …`: a management command that
    sees `module` as the batches app's migrations (the temporary AddField)."""
    import django  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415

    django.setup()
    settings.MIGRATION_MODULES = {"batches": module}  # read when the graph is loaded, later
    call_command(*args)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2:])
