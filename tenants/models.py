"""Public-schema models: tenants (one PostgreSQL schema per shop), their domains and who may
act in them."""

from django.conf import settings
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Tenant(TenantMixin):
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # --- migrations at scale (tenants/migrating.py) ---
    # Fingerprint of the migration graph this schema was last brought to; a schema whose value
    # equals the code's fingerprint is current and `migrate_tenants` skips it without a query.
    migration_state = models.CharField(max_length=64, blank=True, default="")
    # --- end migrations at scale ---
    # --- several databases (tenants/databases.py, tenants/moving.py) ---
    # The database alias holding the schema (settings.DATABASES; extra ones from
    # RELIST_TENANT_DATABASES). Public data stays on "default" whatever this says.
    database = models.CharField(max_length=63, default="default", db_default="default")
    # Set while `manage.py tenant_move` copies the schema to this alias: the shop is under
    # maintenance (the API answers 503 tenant_unavailable, workers defer its tasks).
    moving_to = models.CharField(max_length=63, blank=True, default="", db_default="")
    # A database still holding an old copy of the schema after a move, dropped by the move's
    # last step (or its re-run); nothing routes there.
    moved_from = models.CharField(max_length=63, blank=True, default="", db_default="")
    # --- end several databases ---

    # Provisioning creates and migrates the schema; deleting a tenant drops it.
    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ("schema_name",)
        # Platform operators (the public admin, the job search across tenants) hold this
        # permission, directly or through a group; `is_staff` alone only opens the admin login.
        permissions = [("operate_platform", "Can operate every tenant (platform operator)")]

    def __str__(self) -> str:
        return self.schema_name


class Domain(DomainMixin):
    def __str__(self) -> str:
        return self.domain


class MembershipRole(models.TextChoices):
    OWNER = "owner", "Owner"
    # The shop's own staff: members who also operate the shop's admin (<shop host>/admin/).
    STAFF = "staff", "Staff"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


# Roles that may use the tenant's own admin (with `is_staff` to log in at all).
ADMIN_ROLES = frozenset({MembershipRole.OWNER, MembershipRole.STAFF})


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=MembershipRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "tenant"), name="membership_unique_user_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.tenant_id}:{self.role}"


class ExtensionToken(models.Model):
    """A revocable credential for one user's Vinted browser extension in one tenant.

    Only a SHA-256 digest is stored; the token itself is shown once, when issued."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="extension_tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="extension_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.tenant_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --- migrations at scale and provisioning by cloning (tenants/migrating.py, tenants/cloning.py) ---
class SchemaTemplate(models.Model):
    """The template schema new tenants are cloned from, and its DDL script.

    One row. `migrate_tenants` keeps the template current and re-dumps `ddl` when the migration
    graph changes; provisioning replays `ddl` into the new schema when `migration_state` equals
    the code's fingerprint."""

    schema_name = models.CharField(max_length=63, unique=True)
    migration_state = models.CharField(max_length=64, blank=True, default="")
    ddl = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.schema_name}@{self.migration_state[:12]}"


class SpareSchema(models.Model):
    """A schema cloned from the template ahead of time; provisioning renames one to the new
    tenant's name (ALTER SCHEMA … RENAME, milliseconds). Only spares at the code's
    `migration_state` are used; `migrate_tenants` replaces the others."""

    schema_name = models.CharField(max_length=63, unique=True)
    migration_state = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.schema_name


# --- end migrations at scale ---


class ApiToken(models.Model):
    """A user's API token for one device (a browser, a script): several per user, each listed
    and revocable by its owner, expiring at `expires_at`.

    Only a SHA-256 digest is stored (the token is 256 random bits, so a plain digest is as good
    as a slow hash and costs nothing per request); the token itself is shown once, at login."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        indexes = [models.Index(fields=("user", "expires_at"), name="apitoken_user_expires")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"
