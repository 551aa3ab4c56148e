"""URLs served on the public host (operators and staff): no tenant data here."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
