"""Inbox pagination with a capped count: counting 100,000 matching rows costs ~40 ms a page on this
machine; counting at most COUNT_CAP + 1 costs a few. Past the cap the count says "10,000+"."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.response import Response

from cityos.api.pagination import StandardPagination

COUNT_CAP = 10_000


def capped_count(qs, cap: int = COUNT_CAP) -> dict:
    """{"n": exact count up to `cap`, "capped": True past it (shown as "10,000+")}: a heading's
    count is the size of the set, never the length of the slice a page shows."""
    n = qs[: cap + 1].count()
    return {"n": min(n, cap), "capped": n > cap}


class CappedPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        return self.object_list[: COUNT_CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP


class CappedCountPagination(StandardPagination):
    django_paginator_class = CappedPaginator

    def get_paginated_response(self, data):
        return Response(
            {
                "count": min(self.page.paginator.count, COUNT_CAP),
                "count_capped": self.page.paginator.capped,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        out = super().get_paginated_response_schema(schema)
        out["properties"]["count_capped"] = {"type": "boolean"}
        return out
