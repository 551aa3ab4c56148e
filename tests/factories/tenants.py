import factory
from django.contrib.auth import get_user_model
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.models import Domain, Membership, MembershipRole, Tenant


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("pw")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = MembershipRole.MEMBER


class TenantFactory(factory.django.DjangoModelFactory):
    """A tenant *row* whose schema is never created: creating a schema runs DDL that outlives the
    test transaction (use tenants.services.tenant_provision for a real one). Such a row is what a
    failed provisioning or a dropped schema leaves behind."""

    class Meta:
        model = Tenant

    schema_name = factory.Sequence(lambda n: f"test_no_schema_{n}")
    name = factory.LazyAttribute(lambda tenant: tenant.schema_name)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        tenant = model_class(*args, **kwargs)
        tenant.auto_create_schema = False
        # django-tenants refuses to save a new tenant outside the public schema.
        with schema_context(get_public_schema_name()):
            tenant.save()
        return tenant


class DomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Domain

    tenant = factory.SubFactory(TenantFactory)
    domain = factory.Sequence(lambda n: f"shop-{n}.factory.localhost")
    is_primary = True
