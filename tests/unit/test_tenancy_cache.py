"""The hot-path caches: concurrent misses share one lookup, and an invalidation wins over it."""

from __future__ import annotations

import asyncio

import pytest

from kirem.tenancy.cache import TtlCache, invalidate_all


async def test_concurrent_misses_of_one_key_share_one_lookup() -> None:
    cache: TtlCache[str] = TtlCache()
    lookups = 0
    release = asyncio.Event()

    async def lookup() -> str:
        nonlocal lookups
        lookups += 1
        await release.wait()
        return "found"

    waiting = [asyncio.create_task(cache.load("key", lookup)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == ["found"] * 20
    assert lookups == 1
    assert await cache.load("key", lookup) == "found"  # kept: no new lookup
    assert lookups == 1


async def test_a_failed_lookup_fails_every_waiter_and_is_not_kept() -> None:
    cache: TtlCache[str] = TtlCache()
    release = asyncio.Event()

    async def failing() -> str:
        await release.wait()
        raise LookupError("database down")

    waiting = [asyncio.create_task(cache.load("key", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert [type(result) for result in results] == [LookupError] * 3

    async def found() -> str:
        return "found"

    assert await cache.load("key", found) == "found"


async def test_an_answer_read_before_an_invalidation_is_not_kept() -> None:
    cache: TtlCache[str] = TtlCache()

    async def stale() -> str:
        invalidate_all()  # a change committed while the lookup ran
        return "stale"

    assert await cache.load("key", stale) == "stale"
    assert cache.get("key") is None


async def test_a_bypassing_load_looks_up_even_when_cached() -> None:
    cache: TtlCache[str] = TtlCache()

    async def first() -> str:
        return "first"

    async def second() -> str:
        return "second"

    assert await cache.load("key", first) == "first"
    assert await cache.load("key", second) == "first"
    assert await cache.load("key", second, cached=False) == "second"
    assert cache.get("key") == "second"


@pytest.fixture(autouse=True)
def _empty_caches() -> None:
    invalidate_all()
