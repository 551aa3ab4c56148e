"""The user a request acts as, typed as the user model.

Views behind an authentication permission know their user is a real one; DRF and Django type
`request.user` as "a user or AnonymousUser". `acting_user` states the fact once (and refuses an
anonymous request loudly, should a view ever lose its permission class)."""

from django.contrib.auth.models import User
from django.http import HttpRequest
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request


def acting_user(request: HttpRequest | Request) -> User:
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user
