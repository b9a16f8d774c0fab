"""The hot-path caches: concurrent misses share one lookup, and an invalidation wins over it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

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


async def test_a_failed_lookup_is_not_kept_and_each_waiter_looks_up_again() -> None:
    cache: TtlCache[str] = TtlCache()
    release = asyncio.Event()
    lookups = 0

    async def failing() -> str:
        nonlocal lookups
        lookups += 1
        await release.wait()
        raise LookupError("database down")

    waiting = [asyncio.create_task(cache.load("key", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert [type(result) for result in results] == [LookupError] * 3
    assert lookups == 3  # one after the other: the failure of one session is not another's

    async def found() -> str:
        return "found"

    assert await cache.load("key", found) == "found"


async def test_a_cancelled_loader_leaves_its_waiters_to_look_up_themselves() -> None:
    """Regression: the loader's cancellation was raised in every waiter (none of them cancelled)."""
    cache: TtlCache[str] = TtlCache()
    loading = asyncio.Event()
    lookups: list[str] = []

    def lookup(name: str) -> Callable[[], Awaitable[str]]:
        async def run() -> str:
            lookups.append(name)
            loading.set()
            await asyncio.get_running_loop().create_future()  # runs until cancelled
            return name

        return run

    async def found() -> str:
        lookups.append("waiter")
        return "found"

    loader = asyncio.create_task(cache.load("key", lookup("loader")))
    await loading.wait()
    waiter = asyncio.create_task(cache.load("key", found))
    await asyncio.sleep(0)  # the waiter now waits for the loader's lookup
    loader.cancel()
    assert await waiter == "found"
    assert loader.cancelled()
    assert lookups == ["loader", "waiter"]
    assert cache.get("key") == "found"


async def test_a_waiter_does_not_get_the_loaders_failure() -> None:
    """A connection broken in the loader's session fails the loader's request only."""
    cache: TtlCache[str] = TtlCache()
    loading, release = asyncio.Event(), asyncio.Event()

    async def broken() -> str:
        loading.set()
        await release.wait()
        raise ConnectionResetError("the loader's connection")

    async def found() -> str:
        return "found"

    loader = asyncio.create_task(cache.load("key", broken))
    await loading.wait()
    waiter = asyncio.create_task(cache.load("key", found))
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(ConnectionResetError):
        await loader
    assert await waiter == "found"


async def test_a_lookup_alone_neither_reads_joins_nor_keeps_the_cache() -> None:
    cache: TtlCache[str] = TtlCache()
    loading, release = asyncio.Event(), asyncio.Event()

    async def shared() -> str:
        loading.set()
        await release.wait()
        return "shared"

    async def own() -> str:
        return "own"

    loader = asyncio.create_task(cache.load("key", shared))
    await loading.wait()
    assert await cache.load("key", own, alone=True) == "own"  # not joined to the running lookup
    release.set()
    assert await loader == "shared"
    assert await cache.load("key", own, alone=True) == "own"  # not read from the cache
    assert cache.get("key") == "shared"  # and not kept


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
