from rest_framework.pagination import CursorPagination, PageNumberPagination


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000


class TimeCursorPagination(CursorPagination):
    """For time series and logs: stable under concurrent inserts, O(1) per page."""

    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 10000
    ordering = "-occurred_at"
