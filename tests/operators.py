"""Django test clients for the operator admin and other HTML views, addressed to one host."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.messages import get_messages
from django.db import connection
from django.http import HttpResponse
from django.test import Client

PUBLIC_HOST = "localhost"


class HostClient(Client):
    """Puts the connection back in the test's schema after each request, as TenantAPIClient
    does: the middleware leaves it in the schema of the host it served."""

    def request(self, **request: Any) -> Any:
        previous = connection.tenant
        try:
            return super().request(**request)
        finally:
            connection.set_tenant(previous)


def host_client(*, host: str, user: AbstractBaseUser | None = None) -> HostClient:
    """A client addressed to `host`, logged in as `user` when given."""
    client = HostClient(HTTP_HOST=host)
    if user is not None:
        client.force_login(user)
    return client


def messages_of(response: HttpResponse) -> list[tuple[str, str]]:
    """The (level, text) of the messages the request left for the next page."""
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def platform_operator(**fields: Any) -> AbstractBaseUser:
    """A staff user holding tenants.operate_platform (not a superuser): every tenant's admin and
    the public one."""
    from django.contrib.auth.models import Permission
    from django_tenants.utils import get_public_schema_name, schema_context

    from tests.factories.tenants import UserFactory

    user = UserFactory(is_staff=True, **fields)
    with schema_context(get_public_schema_name()):  # where the permission's content type is
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="tenants", codename="operate_platform")
        )
    return user
