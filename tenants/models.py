"""Public-schema models: tenants (one PostgreSQL schema per shop), their domains and who may
act in them."""

from django.conf import settings
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Tenant(TenantMixin):
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    # Provisioning creates and migrates the schema; deleting a tenant drops it.
    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ("schema_name",)

    def __str__(self) -> str:
        return self.schema_name


class Domain(DomainMixin):
    def __str__(self) -> str:
        return self.domain


class MembershipRole(models.TextChoices):
    OWNER = "owner", "Owner"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


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
