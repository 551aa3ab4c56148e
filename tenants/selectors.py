"""Read-side helpers for tenants. Membership is checked by primary keys, never by name matching."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from tenants.models import Membership, MembershipRole, Tenant


def membership_get(*, user: AbstractBaseUser | AnonymousUser, tenant: Tenant) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user_id=user.pk, tenant_id=tenant.pk).first()


def user_is_member(*, user: AbstractBaseUser | AnonymousUser, tenant: Tenant) -> bool:
    return membership_get(user=user, tenant=tenant) is not None


def user_can_write(*, user: AbstractBaseUser | AnonymousUser, tenant: Tenant) -> bool:
    membership = membership_get(user=user, tenant=tenant)
    return membership is not None and membership.role != MembershipRole.VIEWER
