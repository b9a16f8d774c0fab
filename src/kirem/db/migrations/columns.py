"""Builders for the columns and constraints the revisions keep spelling out.

A revision still names every column with its type, nullability and server default, and every
constraint and index by its full name; these only take the ``sa.Column(...)`` and constraint
boilerplate off the page. Released revisions build their schema through them: never change what a
builder returns (the databases those revisions made would no longer match); add a builder instead.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine

from kirem.db.base import UTCDateTime

ID_LENGTH = 40
"""Prefixed random ids (``prj_…``, ``ch_…``) and the columns that point at them."""

ServerDefault = str | sa.ColumnElement[Any] | None


def _column(
    name: str, type_: TypeEngine[Any], nullable: bool, server_default: ServerDefault = None
) -> sa.Column[Any]:
    return sa.Column(name, type_, nullable=nullable, server_default=server_default)


def string_id(name: str = "id", *, nullable: bool = False) -> sa.Column[Any]:
    """A ``VARCHAR(40)`` id, or a column that refers to one."""
    return _column(name, sa.String(length=ID_LENGTH), nullable)


def serial_id() -> sa.Column[Any]:
    """An ``id`` integer the database numbers."""
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False)


def string(
    name: str, length: int, *, nullable: bool = False, server_default: ServerDefault = None
) -> sa.Column[Any]:
    return _column(name, sa.String(length=length), nullable, server_default)


def text(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return _column(name, sa.Text(), nullable)


def json(name: str, *, nullable: bool = False, server_default: ServerDefault = None) -> sa.Column[Any]:
    return _column(name, sa.JSON(), nullable, server_default)


def boolean(name: str, *, server_default: ServerDefault = None) -> sa.Column[Any]:
    """Never null: every flag has a value."""
    return _column(name, sa.Boolean(), False, server_default)


def integer(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return _column(name, sa.Integer(), nullable)


def big_integer(name: str) -> sa.Column[Any]:
    return _column(name, sa.BigInteger(), False)


def floating(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return _column(name, sa.Float(), nullable)


def binary(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return _column(name, sa.LargeBinary(), nullable)


def timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    """A timezone-aware UTC moment (``kirem.db.base.UTCDateTime``)."""
    return _column(name, UTCDateTime(timezone=True), nullable)


def primary_key(name: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(name))


def unique(name: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(name))


def foreign_key(name: str, column: str, table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    """``column`` refers to ``table.id``; ``ondelete`` is ``CASCADE`` or ``SET NULL``."""
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(name), ondelete=ondelete)
