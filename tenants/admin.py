from django.contrib import admin

from tenants.models import Domain, Membership, Tenant


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("schema_name", "name", "created_at")
    search_fields = ("schema_name", "name", "domains__domain")
    inlines = (DomainInline, MembershipInline)
