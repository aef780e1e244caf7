"""One page of a table's rows and the total count, filtered by column equality (the API's list pages)."""

from __future__ import annotations

from sqlalchemy import Engine, func, select


def page_where_equal(engine: Engine, table, order_by, /, *, limit: int, offset: int, **equal) -> tuple[list, int]:
    """Rows of `table` whose columns equal the given values (None: any), ordered by `order_by`, and their total.

    `table`, `order_by` are positional only, so a filter column may be named ``model`` (the registry's)."""
    stmt = select(table)
    for column, value in equal.items():
        if value is not None:
            stmt = stmt.where(getattr(table, column) == value)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        rows = conn.execute(stmt.order_by(order_by).limit(limit).offset(offset)).all()
    return rows, total
