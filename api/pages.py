"""Offset pagination shared by list routes: ``limit`` (1-200), ``offset``, and the total."""

from __future__ import annotations

from typing import Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from api.bounds import MAX_ID

MAX_LIMIT = 200
T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None  # None on the last page


class PageParams:
    """Query parameters ``limit`` and ``offset`` (a FastAPI dependency)."""

    def __init__(self, limit: int = Query(50, ge=1, le=MAX_LIMIT, description=f"At most {MAX_LIMIT}"),
                 offset: int = Query(0, ge=0, le=MAX_ID)):
        self.limit = limit
        self.offset = offset

    def of(self, items: list, total: int) -> Page:
        following = self.offset + len(items)
        return Page(items=items, total=total, limit=self.limit, offset=self.offset,
                    next_offset=following if following < total else None)
