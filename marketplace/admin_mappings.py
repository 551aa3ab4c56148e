"""Operator admin of a shop's mappings (categories and their marketplace ids, value mappings),
on the shop's host. Unlike jobs, these are reference rows with no workflow around them, so the
admin edits them directly (the API does the same: /api/categories/, /api/category-mappings/,
/api/value-mappings/)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin import TenantSchemaAdmin, TenantSchemaTabularInline, may_operate_tenant
from marketplace.models import Category, CategoryMapping, ValueMapping


class _Editable:
    """The shop's own staff (and platform operators) may add, change and delete mapping rows."""

    def _allowed(self, request: HttpRequest) -> bool:
        return may_operate_tenant(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)


class CategoryMappingInline(_Editable, TenantSchemaTabularInline):
    model = CategoryMapping
    extra = 0
    can_delete = True
    fields = ("marketplace", "external_id", "external_name", "required_aspects", "properties")


@admin.register(Category)
class CategoryAdmin(_Editable, TenantSchemaAdmin):
    list_display = ("code", "name", "group")
    list_filter = ("group",)
    search_fields = ("code", "name")
    inlines = (CategoryMappingInline,)


@admin.register(ValueMapping)
class ValueMappingAdmin(_Editable, TenantSchemaAdmin):
    list_display = ("kind", "value", "marketplace", "external_id", "external_name")
    list_filter = ("kind", "marketplace")
    search_fields = ("value", "external_id", "external_name")
