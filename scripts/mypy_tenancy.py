"""mypy plugin: the attributes django-tenants adds at run time, declared for the type checker.

django-tenants' database backend gives the connection `schema_name`, `tenant`, `set_tenant()`
and `set_schema_to_public()`, and its middleware gives the request `tenant`; django-stubs types
`django.db.connection` as the plain BaseDatabaseWrapper and the request as the plain
HttpRequest, so every use would need an ignore. Declaring them once here keeps the code (and the
engine rewritten later) free of per-line ignores.
https://mypy.readthedocs.io/en/stable/extending_mypy.html"""

from collections.abc import Callable

from mypy.nodes import MDEF, SymbolTableNode, Var
from mypy.plugin import ClassDefContext, Plugin
from mypy.types import AnyType, Type, TypeOfAny

CONNECTION = "django.db.backends.base.base.BaseDatabaseWrapper"
REQUESTS = ("django.http.request.HttpRequest", "rest_framework.request.Request")


def _declare(ctx: ClassDefContext, name: str, typ: Type) -> None:
    var = Var(name, typ)
    var.info = ctx.cls.info
    var._fullname = f"{ctx.cls.info.fullname}.{name}"
    var.is_property = False
    ctx.cls.info.names[name] = SymbolTableNode(MDEF, var, plugin_generated=True)


def _connection(ctx: ClassDefContext) -> None:
    any_type = AnyType(TypeOfAny.special_form)
    _declare(ctx, "schema_name", ctx.api.named_type("builtins.str"))
    _declare(ctx, "tenant", any_type)  # tenants.models.Tenant or FakeTenant
    _declare(ctx, "set_tenant", any_type)
    _declare(ctx, "set_schema_to_public", any_type)


def _request(ctx: ClassDefContext) -> None:
    # Set by the tenant middleware on tenant hosts (views of the public host never read it).
    _declare(ctx, "tenant", AnyType(TypeOfAny.special_form))


class TenancyPlugin(Plugin):
    def get_customize_class_mro_hook(
        self, fullname: str
    ) -> Callable[[ClassDefContext], None] | None:
        if fullname == CONNECTION:
            return _connection
        if fullname in REQUESTS:
            return _request
        return None


def plugin(version: str) -> type[Plugin]:
    return TenancyPlugin
