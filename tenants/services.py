"""Provisioning and removal of tenants (schema cloned from the template, domain, owner)."""

import hashlib
import logging
import re
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_exists

from core.errors import ValidationFailed
from sales.schedule.services import sync_schedule_enable
from tenants.cloning import (
    schema_clone,
    spare_schema_take,
    template_current,
    template_is_current,
    template_refresh,
)
from tenants.context import tenant_get
from tenants.databases import PRIMARY, database_use, tenant_database_check
from tenants.migrating import (
    MigrationInProgress,
    MigrationTarget,
    migration_lock,
    migration_target,
    provisioning_lock,
)
from tenants.models import Domain, ExtensionToken, Membership, MembershipRole, Tenant

logger = logging.getLogger(__name__)

# PostgreSQL identifiers, lower case, not starting with pg_ (reserved) nor a digit.
_SCHEMA_RE = re.compile(r"^(?!pg_)[a-z][a-z0-9_]{1,62}$")


def tenant_provision(
    *,
    schema_name: str,
    name: str,
    domain: str | None = None,
    owner_username: str | None = None,
    owner_email: str = "",
    owner_password: str | None = None,
    database: str = PRIMARY,
) -> Tenant:
    """Create the tenant's schema, add its domain and its owner, in one transaction.

    The schema is a spare renamed (milliseconds) or, when none is left, a clone of the template
    (tenants/cloning.py), which is refreshed first when the code's migrations changed. A
    migration run and a provisioning never overlap (the advisory lock of tenants/migrating.py):
    waiting longer than RELIST_TENANT_LOCK_TIMEOUT_S raises MigrationInProgress.

    On another `database` than the primary the schema is always a clone (spares are kept on
    the primary only), made in a transaction of that database that commits just before the
    primary's: should the primary's commit fail, the new schema is dropped again.
    """
    _validate_schema_name(schema_name)
    tenant_database_check(database)
    if Tenant.objects.filter(schema_name=schema_name).exists():
        raise ValidationFailed("This tenant exists already.", details={"schema_name": schema_name})
    domain = domain or f"{schema_name.replace('_', '-')}.{settings.RELIST_TENANT_DOMAIN_SUFFIX}"
    if Domain.objects.filter(domain=domain).exists():
        raise ValidationFailed("This domain is taken.", details={"domain": domain})

    timeout_s = settings.RELIST_TENANT_LOCK_TIMEOUT_S
    target = migration_target()
    connection.set_schema_to_public()
    if not template_is_current(target=target):
        with migration_lock(timeout_s=timeout_s):
            template_refresh(target=target)
    committed_elsewhere = False
    try:
        with transaction.atomic():
            provisioning_lock(timeout_s=timeout_s)
            if database == PRIMARY:
                _schema_create(schema_name=schema_name, target=target, spare=True)
            else:
                with database_use(database), transaction.atomic():
                    _schema_create(schema_name=schema_name, target=target, spare=False)
                committed_elsewhere = True
            tenant = Tenant(
                schema_name=schema_name,
                name=name,
                migration_state=target.fingerprint,
                database=database,
            )
            tenant.auto_create_schema = False  # cloned just above, in this transaction
            tenant.save()
            Domain.objects.create(tenant=tenant, domain=domain, is_primary=True)
            if owner_username:
                owner = _user_get_or_create(
                    username=owner_username, email=owner_email, password=owner_password
                )
                Membership.objects.create(user=owner, tenant=tenant, role=MembershipRole.OWNER)
    except BaseException:
        if committed_elsewhere:
            _schema_drop_if_orphan(schema_name=schema_name, database=database)
        raise
    logger.info(
        "tenant.provisioned", extra={"tenant": schema_name, "domain": domain, "db": database}
    )
    return tenant


def _schema_create(*, schema_name: str, target: MigrationTarget, spare: bool) -> None:
    """In the caller's transaction on the active database: a spare renamed or a clone."""
    if schema_exists(schema_name):
        raise ValidationFailed(
            "A schema of this name exists already.", details={"schema_name": schema_name}
        )
    if spare and spare_schema_take(schema_name=schema_name, target=target):
        return
    template = template_current(target=target)
    if template is None:  # a deploy changed the migrations since the check above
        raise MigrationInProgress("The tenant template is being migrated; try again.")
    schema_clone(template=template, schema_name=schema_name)


def _schema_drop_if_orphan(*, schema_name: str, database: str) -> None:
    """A provisioning on another database failed after its schema was committed there (the
    primary's commit failed): drop that schema, unless a tenant row claims it after all."""
    if Tenant.objects.filter(schema_name=schema_name).exists():
        return
    with database_use(database), connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(schema_name)} CASCADE")


def _validate_schema_name(schema_name: str) -> None:
    reserved = {"public", settings.RELIST_TENANT_TEMPLATE_SCHEMA}
    if not _SCHEMA_RE.match(schema_name) or schema_name in reserved:
        raise ValidationFailed(
            "Schema names are 2-63 lower-case letters, digits or underscores.",
            details={"schema_name": schema_name},
        )


def _user_get_or_create(*, username: str, email: str, password: str | None) -> User:
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username, defaults={"email": email})
    if created:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def membership_add(*, tenant: Tenant, user: User, role: MembershipRole) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, tenant=tenant, defaults={"role": role}
    )
    return membership


def tenant_delete(*, schema_name: str) -> None:
    """Delete the tenant, its domains and memberships, and drop its schema."""
    tenant = tenant_get(schema_name=schema_name)
    with database_use(tenant.database):  # the schema is dropped there; the rows on the primary
        tenant.delete(force_drop=True)
    logger.info("tenant.deleted", extra={"tenant": schema_name})


def extension_token_issue(
    *, tenant: Tenant, user: User, name: str = ""
) -> tuple[ExtensionToken, str]:
    """Issue a token for the user's extension; returns the row and the token (shown once)."""
    if not Membership.objects.filter(tenant=tenant, user=user).exists():
        raise ValidationFailed("Only members of the shop can connect an extension.")
    raw = f"rlx_{secrets.token_urlsafe(32)}"
    token = ExtensionToken.objects.create(
        tenant=tenant, user=user, name=name, digest=token_digest(raw), prefix=raw[:12]
    )
    # A connected extension makes Vinted's sold orders readable: detect sales there too.
    sync_schedule_enable(marketplace="vinted", tenant_id=tenant.pk)
    return token, raw


def extension_token_revoke(*, token: ExtensionToken) -> ExtensionToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def extension_token_authenticate(*, raw: str) -> ExtensionToken | None:
    """The active token for `raw`, with its tenant and user; None when unknown or revoked."""
    token = (
        ExtensionToken.objects.select_related("tenant", "user")
        .filter(digest=token_digest(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is not None:
        ExtensionToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token
