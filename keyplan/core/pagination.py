"""Pagination that stays fast deep into large lists.

``OFFSET 99950`` on the full rows makes the database read and throw away 99,950
rows. Reading only the primary keys of the page first walks the ordering index
alone, then one ``pk IN (...)`` query fetches the 50 rows (a "deferred join").
"""

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from ninja import Field, Schema
from ninja.pagination import PaginationBase


def slice_by_keys(queryset: QuerySet, start: int, stop: int) -> list:
    keys = list(queryset.values_list("pk", flat=True)[start:stop])
    if not keys:
        return []
    rows = {row.pk: row for row in queryset.filter(pk__in=keys)}
    return [rows[key] for key in keys if key in rows]


class KeysetPaginator(Paginator):
    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page + (self.orphans if bottom + self.per_page + self.orphans >= self.count else 0), self.count)
        return self._get_page(slice_by_keys(self.object_list, bottom, top), number, self)


MAX_OFFSET = 1_000_000_000


class LimitOffset(PaginationBase):
    """``?limit=&offset=`` answered as ``{"items": [...], "count": N}``, fast at deep offsets."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=1000)
        # Bounded: a deeper offset is never a real page, and a number past 64 bits is a database error.
        offset: int = Field(0, ge=0, le=MAX_OFFSET)

    class Output(Schema):
        items: list[Any]
        count: int

    items_attribute = "items"

    def paginate_queryset(self, queryset: QuerySet | list, pagination: Input, **params) -> dict:
        if not isinstance(queryset, QuerySet):  # a computed list (a change log, a ranking): sliced as it is
            rows = list(queryset)
            return {"items": rows[pagination.offset:pagination.offset + pagination.limit], "count": len(rows)}
        return {
            "items": slice_by_keys(queryset, pagination.offset, pagination.offset + pagination.limit),
            "count": queryset.count(),
        }
