"""Re-sealing every stored secret with the current encryption key (``kirem reseal``).

Rotating ``KIREM_ENCRYPTION_KEY``: put the new key first (``k2:…,k1:…``) so it seals while the old
one still opens, restart, run ``kirem reseal``, and once it reports nothing left under the old key
id and nothing unreadable, remove the old key. Each value is opened with the same owner ids it was
sealed with and sealed again; values already under the current key are left alone, so the command
can be stopped and run again. Rows are read and written in batches, one transaction each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute

from kirem.context import AppContext
from kirem.crypto import Sealer, SealError
from kirem.delivery.secret import CURRENT_AAD, PREVIOUS_AAD
from kirem.messaging.models import IdempotencyRecord
from kirem.routing.models import WebhookTarget
from kirem.routing.targets import HEADERS_AAD
from kirem.tenancy.models import Channel, Project

BATCH = 500


@dataclass(frozen=True)
class SealedColumn:
    """A column holding sealed values and the owner ids each was sealed with."""

    name: str
    column: InstrumentedAttribute[Any]
    associated: Callable[[Any], tuple[str, ...]]
    binary: bool = False


COLUMNS = (
    SealedColumn("project webhook secrets", Project.webhook_secret_sealed, lambda p: (p.id, CURRENT_AAD)),
    SealedColumn(
        "previous project webhook secrets",
        Project.previous_webhook_secret_sealed,
        lambda p: (p.id, PREVIOUS_AAD),
    ),
    SealedColumn(
        "channel access tokens", Channel.access_token_sealed, lambda c: (c.project_id, c.id, "access_token")
    ),
    SealedColumn(
        "webhook target headers", WebhookTarget.headers_sealed, lambda t: (t.project_id, t.id, HEADERS_AAD)
    ),
    SealedColumn(
        "idempotent responses",
        IdempotencyRecord.response_body,
        lambda r: (r.project_id, "idempotency", r.key),
        binary=True,
    ),
)


@dataclass
class ResealReport:
    resealed: Counter[str] = field(default_factory=Counter)
    current: Counter[str] = field(default_factory=Counter)
    unreadable: list[str] = field(default_factory=list)
    """``<what> <row id>``: values no configured key opens for their owner (left as they are)."""

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "values": column.name,
                "resealed": self.resealed[column.name],
                "already_current": self.current[column.name],
            }
            for column in COLUMNS
        ]


def _reseal_one(sealer: Sealer, column: SealedColumn, row: Any, report: ResealReport, dry_run: bool) -> None:
    raw = getattr(row, column.column.key)
    sealed = raw.decode() if column.binary else raw
    if sealed.partition(".")[0] == sealer.current_kid:
        report.current[column.name] += 1
        return
    associated = column.associated(row)
    try:
        plaintext = sealer.open(sealed, *associated)
    except SealError as exc:
        report.unreadable.append(f"{column.name} {row.id}: {exc}")
        return
    report.resealed[column.name] += 1
    if not dry_run:
        fresh = sealer.seal(plaintext, *associated)
        setattr(row, column.column.key, fresh.encode() if column.binary else fresh)


async def reseal_all(ctx: AppContext, dry_run: bool = False) -> ResealReport:
    """Seal again, with the current key, every stored value sealed with another key."""
    report = ResealReport()
    for column in COLUMNS:
        model = column.column.class_
        after: Any = None
        while True:
            async with ctx.db.transaction() as session:
                query = select(model).where(column.column.is_not(None)).order_by(model.id).limit(BATCH)
                if after is not None:
                    query = query.where(model.id > after)
                rows = list((await session.execute(query)).scalars())
                for row in rows:
                    _reseal_one(ctx.sealer, column, row, report, dry_run)
            if len(rows) < BATCH:
                break
            after = rows[-1].id
    return report
