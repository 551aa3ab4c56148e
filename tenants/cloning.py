"""New tenant schemas cloned from a template instead of migrated one by one.

A template schema (`RELIST_TENANT_TEMPLATE_SCHEMA`) is migrated like any tenant by
`migrate_tenants`; each time its migrations change it is dumped once (`pg_dump --schema-only`
plus its few rows: the migration records and content types) into `SchemaTemplate.ddl`, with the
schema name replaced by a placeholder. Provisioning replays that script into the new schema in
one round trip, inside the provisioning transaction: ~0.1 s instead of ~1-2 s of migrations, and
django-tenants' own `clone_schema` (a PL/pgSQL walk of the catalogue, ~0.7 s here).

pg_dump is needed where the template is refreshed (the migrating host), not where tenants are
provisioned: the script lives in the database.

Spare schemas (`RELIST_TENANT_SPARE_SCHEMAS`) are clones made ahead of time; provisioning renames
one (`ALTER SCHEMA … RENAME`, a catalogue update) and falls back to a clone when none is left.
"""

import logging
import os
import re
import secrets
import subprocess

from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import schema_exists

from tenants.migrating import (
    MigrationTarget,
    migration_target,
    provisioning_lock,
    schema_migrate,
)
from tenants.models import SchemaTemplate, SpareSchema

logger = logging.getLogger(__name__)

PLACEHOLDER = "__relist_schema__"
# Session settings of pg_dump's preamble; `set_config('search_path', '', false)` in particular
# would outlive the script on the shared connection.
_PREAMBLE = re.compile(r"^(SET |SELECT pg_catalog\.set_config\(|\\|--)")


def template_schema_name() -> str:
    return settings.RELIST_TENANT_TEMPLATE_SCHEMA


def template_current(*, target: MigrationTarget | None = None) -> SchemaTemplate | None:
    """The template row when it matches the code's migrations (one query), else None. Its
    `ddl` is empty when pg_dump could not be run: provisioning then migrates new schemas."""
    target = target or migration_target()
    return SchemaTemplate.objects.filter(
        schema_name=template_schema_name(), migration_state=target.fingerprint
    ).first()


def template_is_current(*, target: MigrationTarget) -> bool:
    return SchemaTemplate.objects.filter(
        schema_name=template_schema_name(), migration_state=target.fingerprint
    ).exists()


def template_refresh(*, target: MigrationTarget | None = None, force: bool = False) -> None:
    """Migrate the template schema and re-dump its script when it changed.

    Callers hold the exclusive migration lock (`migrating.migration_lock`)."""
    target = target or migration_target()
    name = template_schema_name()
    current = template_current(target=target)
    if not force and current is not None and current.ddl and schema_exists(name):
        return
    connection.set_schema_to_public()
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {connection.ops.quote_name(name)}")
    schema_migrate(schema_name=name, target=target)
    connection.set_schema_to_public()
    try:
        ddl = schema_script(schema_name=name)
    except (OSError, subprocess.CalledProcessError) as error:
        # No usable pg_dump here: provisioning falls back to migrating each new schema.
        logger.error("tenants.template_dump_failed", extra={"error": str(error)[:500]})
        ddl = ""
    SchemaTemplate.objects.update_or_create(
        schema_name=name, defaults={"migration_state": target.fingerprint, "ddl": ddl}
    )
    logger.info("tenants.template_refreshed", extra={"tenant": name, "bytes": len(ddl)})


def libpq_environment(db: dict) -> dict[str, str]:
    """The environment that points pg_dump / psql at the database of settings `db`."""
    env = {
        **os.environ,
        "PGHOST": str(db.get("HOST") or ""),
        "PGPORT": str(db.get("PORT") or ""),
        "PGUSER": str(db.get("USER") or ""),
        "PGPASSWORD": str(db.get("PASSWORD") or ""),
        "PGDATABASE": str(db["NAME"]),
        "PGSSLMODE": str(db.get("OPTIONS", {}).get("sslmode") or ""),
    }
    return {key: value for key, value in env.items() if value}


def schema_script(*, schema_name: str) -> str:
    """A script recreating the schema (structure and rows) under the placeholder name."""
    dumped = subprocess.run(
        [
            settings.RELIST_PG_DUMP,
            f"--schema={schema_name}",
            "--inserts",
            "--no-owner",
            "--no-privileges",
            "--no-tablespaces",
        ],
        env=libpq_environment(connection.settings_dict),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line for line in dumped.splitlines() if line and not _PREAMBLE.match(line)]
    return re.sub(rf"\b{re.escape(schema_name)}\b", PLACEHOLDER, "\n".join(lines))


def schema_clone(*, template: SchemaTemplate, schema_name: str) -> None:
    """Create `schema_name` from the template's script (inside the caller's transaction), or,
    without a script (no pg_dump where the template was refreshed), by running every migration:
    correct, only slower (1-4 s)."""
    quoted = connection.ops.quote_name(schema_name)
    with connection.cursor() as cursor:
        if template.ddl:
            cursor.execute(template.ddl.replace(PLACEHOLDER, quoted))
            return
        cursor.execute(f"CREATE SCHEMA {quoted}")
    schema_migrate(schema_name=schema_name)


def spare_schema_take(*, schema_name: str, target: MigrationTarget) -> bool:
    """Rename a current spare to `schema_name` (inside the caller's transaction, which holds
    the provisioning lock); False when none is left. SKIP LOCKED: two provisionings never
    wait on, nor take, the same spare."""
    spare = (
        SpareSchema.objects.select_for_update(skip_locked=True)
        .filter(migration_state=target.fingerprint)
        .order_by("id")
        .first()
    )
    if spare is None:
        return False
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SCHEMA {quote(spare.schema_name)} RENAME TO {quote(schema_name)}")
    spare.delete()
    return True


def spare_schemas_fill(*, size: int | None = None, timeout_s: float | None = None) -> int:
    """Clone the template until `size` current spares exist; returns how many were made.

    Each clone is its own transaction under the shared provisioning lock, so a migration run
    waits for at most one clone, and stops the filling (no current template) until it ends."""
    size = settings.RELIST_TENANT_SPARE_SCHEMAS if size is None else size
    timeout_s = settings.RELIST_TENANT_LOCK_TIMEOUT_S if timeout_s is None else timeout_s
    target = migration_target()
    made = 0
    connection.set_schema_to_public()
    while SpareSchema.objects.filter(migration_state=target.fingerprint).count() < size:
        with transaction.atomic():
            provisioning_lock(timeout_s=timeout_s)
            template = template_current(target=target)
            if template is None or not template.ddl:
                break
            name = f"relist_spare_{secrets.token_hex(6)}"
            schema_clone(template=template, schema_name=name)
            SpareSchema.objects.create(schema_name=name, migration_state=target.fingerprint)
        made += 1
    if made:
        logger.info("tenants.spares_filled", extra={"made": made, "size": size})
    return made


def spare_schemas_drop_stale(*, target: MigrationTarget) -> int:
    """Drop the spares cloned before the migrations changed (under the migration lock)."""
    stale = list(SpareSchema.objects.exclude(migration_state=target.fingerprint))
    with connection.cursor() as cursor:
        for spare in stale:
            cursor.execute(
                f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(spare.schema_name)} CASCADE"
            )
    SpareSchema.objects.filter(pk__in=[spare.pk for spare in stale]).delete()
    return len(stale)
