"""Cursor pagination on the primary key: every page, first or deep, is one index range scan, so a
page stays fast with a million jobs (no OFFSET, no COUNT(*))."""

from rest_framework.pagination import CursorPagination


class JobCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
