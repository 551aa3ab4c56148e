"""Read-side helpers for tenants. Membership is checked by primary keys, never by name matching."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from tenants.models import ExtensionToken, Membership, MembershipRole, Tenant


def membership_get(*, user: AbstractBaseUser | AnonymousUser, tenant: Tenant) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user_id=user.pk, tenant_id=tenant.pk).first()


def user_is_member(*, user: AbstractBaseUser | AnonymousUser, tenant: Tenant) -> bool:
    return membership_get(user=user, tenant=tenant) is not None


def user_can_write(*, user: AbstractBaseUser | AnonymousUser, tenant: Tenant) -> bool:
    membership = membership_get(user=user, tenant=tenant)
    return membership is not None and membership.role != MembershipRole.VIEWER


def extension_token_list(
    *, tenant: Tenant, user: AbstractBaseUser | AnonymousUser | None = None
) -> QuerySet[ExtensionToken]:
    """The tenant's extension tokens; only `user`'s when given (a member manages their own)."""
    tokens = ExtensionToken.objects.filter(tenant_id=tenant.pk)
    if isinstance(user, AnonymousUser):
        return tokens.none()
    if user is not None:
        tokens = tokens.filter(user_id=user.pk)
    return tokens
