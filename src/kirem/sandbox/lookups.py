"""Short-lived copies of what every sandbox send reads: the token's number and the named template.

A send authenticates its access token and finds its template; both change rarely (a token through
sign-up or provisioning, a template through its routes, its review or the CLI). Each
:class:`SendLookups` (one per sandbox runtime) keeps what it found for :data:`TTL_SECONDS`:

- a change committed by this process to a sandbox number or template empties them at its commit;
- a change made by another process (the CLI) is seen once the entry expires;
- an unknown token or template is always looked up, and a cached template whose WABA has a review
  falling due is looked up again, so the review is finished (and its webhook owed) as before.

The cached rows are detached copies that the send route only reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kirem.db.cache_invalidation import invalidate_on_commit
from kirem.kit.ttl_cache import CacheGroup, TtlCache
from kirem.sandbox.models import SandboxNumber, SandboxTemplate

TTL_SECONDS = 0.5
"""How long another process's change to a token or template can go unseen."""
_GROUP = CacheGroup()
invalidate_on_commit(_GROUP, (SandboxNumber, SandboxTemplate), "sandbox")


@dataclass(frozen=True)
class FoundTemplate:
    """A template as a send found it, and when the next review of its WABA falls due (if any)."""

    template: SandboxTemplate
    next_review: datetime | None

    def current(self, now: datetime) -> bool:
        return self.next_review is None or now < self.next_review


class SendLookups:
    def __init__(self) -> None:
        self.numbers: TtlCache[SandboxNumber] = TtlCache(_GROUP, TTL_SECONDS)
        """By the hash of their access token."""
        self.templates: TtlCache[FoundTemplate] = TtlCache(_GROUP, TTL_SECONDS)
        """By ``(waba_id, name, language)``."""
