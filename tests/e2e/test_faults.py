"""Crashes and races: nothing accepted is lost, nothing is attempted twice at once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.inbound.models import RawEvent
from kirem.meta.signatures import sign
from tests.conftest import ENGINES, create_postgres_database, drop_postgres_database
from tests.e2e.conftest import KIREM, Server, auth, start_server, stop_server
from tests.e2e.consumers import Consumer, consumer_server
from tests.e2e.test_routing import add_target, inbound

FAST_LEASES = {"KIREM_DELIVERY_LEASE_SECONDS": "4", "KIREM_INBOUND_LEASE_SECONDS": "2"}


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


def start_worker(server: Server, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen(
        [KIREM, "worker"], env=server.env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
    )


def delivered_event_ids(consumer: Consumer, path: str) -> Counter[str]:
    return Counter(r.json()["id"] for r in consumer.at(path))


def succeeded(client: httpx.Client, boot: dict[str, Any]) -> int:
    """How many deliveries Kirem has recorded as answered by their consumer."""
    page = client.get(
        "/v1/webhooks/deliveries", params={"status": "succeeded", "limit": 1}, headers=auth(boot["api_key"])
    )
    return int(page.json()["data"]["total"])


def test_server_killed_right_after_answering_meta_still_routes_after_restart(
    tmp_path: Path, database_url: str, consumer: Consumer
) -> None:
    process, server = start_server(tmp_path, database_url, KIREM_WORKER="false", **FAST_LEASES)
    try:
        boot = server.bootstrap(plan="growth")
        with httpx.Client(base_url=server.url, timeout=30) as client:
            add_target(
                client, boot["api_key"], consumer.endpoint("/after-crash"), events=["messages.received"]
            )
            body = (
                b'{"object":"whatsapp_business_account","entry":[{"id":"'
                + boot["waba_id"].encode()
                + b'","changes":'
                b'[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":'
                b'"15550000000","phone_number_id":"'
                + boot["phone_number_id"].encode()
                + b'"},"contacts":[{"profile":'
                b'{"name":"Budi"},"wa_id":"62812345678"}],"messages":[{"from":"62812345678","id":"wamid.CRASH1",'
                b'"timestamp":"1750000000","type":"text","text":{"body":"sebelum crash"}}]}}]}]}'
            )
            answer = client.post(
                "/webhooks/meta",
                content=body,
                headers={"X-Hub-Signature-256": sign("meta-app-secret-e2e", body)},
            )
            assert answer.status_code == 200
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert consumer.at("/after-crash") == []
    same_key = {"KIREM_ENCRYPTION_KEY": server.env["KIREM_ENCRYPTION_KEY"]}
    process, server = start_server(tmp_path, database_url, **FAST_LEASES, **same_key)
    try:
        [delivered] = consumer.wait_for("/after-crash", 1)
        assert delivered.json()["data"]["text"]["body"] == "sebelum crash"
    finally:
        stop_server(process)


def test_worker_killed_mid_delivery_loses_nothing(
    tmp_path: Path, database_url: str, consumer: Consumer
) -> None:
    process, server = start_server(tmp_path, database_url, KIREM_WORKER="false", **FAST_LEASES)
    worker = start_worker(server, tmp_path, "worker-1")
    try:
        boot = server.bootstrap(plan="growth")
        with httpx.Client(base_url=server.url, timeout=30) as client:
            add_target(
                client,
                boot["api_key"],
                consumer.endpoint("/slow"),
                events=["messages.received"],
                timeout_seconds=2,
            )
            consumer.hold = held = threading.Event()  # every attempt hangs until the worker is dead
            for i in range(20):
                inbound(client, boot, {"type": "text", "text": {"body": f"pesan {i}"}})
            assert consumer.wait_for_arrivals("/slow", 3) >= 3, "no attempt reached the consumer"
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            consumer.hold = None
            held.set()  # the dead worker's requests end; their answers reach nobody
            worker = start_worker(server, tmp_path, "worker-2")
            deadline = time.monotonic() + 60
            while succeeded(client, boot) < 20 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert succeeded(client, boot) == 20
            assert len(delivered_event_ids(consumer, "/slow")) == 20
            events = client.get("/v1/events", params={"limit": 100}, headers=auth(boot["api_key"])).json()[
                "data"
            ]
            assert events["total"] == 20
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        stop_server(process)


@pytest.mark.parametrize("engine", [e for e in ENGINES if e == "postgres"])
def test_two_workers_on_postgres_never_send_the_same_attempt_twice(
    engine: str, tmp_path: Path, consumer: Consumer
) -> None:
    """Several workers need PostgreSQL; without KIREM_TEST_POSTGRES_URL this has no parameter to run."""
    url = asyncio.run(create_postgres_database())
    process, server = start_server(tmp_path, url, KIREM_WORKER="false")
    workers = [start_worker(server, tmp_path, f"worker-{i}") for i in range(2)]
    try:
        boot = server.bootstrap(plan="growth")
        with httpx.Client(base_url=server.url, timeout=30) as client:
            add_target(client, boot["api_key"], consumer.endpoint("/once"), events=["messages.received"])
            for i in range(40):
                inbound(client, boot, {"type": "text", "text": {"body": f"pesan {i}"}})
            received = consumer.wait_for("/once", 40, timeout=60)
            time.sleep(1.5)
            deliveries = Counter(r.headers["x-kirem-delivery"] for r in consumer.at("/once"))
            assert len(received) >= 40 and len(deliveries) == 40
            assert max(deliveries.values()) == 1, "a delivery was sent twice"
            stats: dict[str, Any] = client.get(
                "/v1/webhooks/deliveries",
                params={"status": "succeeded", "limit": 100},
                headers=auth(boot["api_key"]),
            ).json()["data"]
            assert stats["total"] == 40 and all(d["attempts"] == 1 for d in stats["deliveries"])
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        stop_server(process)
        asyncio.run(drop_postgres_database(url))


@pytest.mark.parametrize("engine", [e for e in ENGINES if e == "postgres"])
def test_api_processes_and_workers_under_steady_load_deliver_each_event_once(
    engine: str, tmp_path: Path, consumer: Consumer
) -> None:
    """``kirem serve --workers 2`` (each process also delivering) beside a ``kirem worker``: three
    processes claim the same queue while webhooks keep arriving, and each attempt is sent once."""
    url = asyncio.run(create_postgres_database())
    process, server = start_server(tmp_path, url, "--workers", "2")
    worker = start_worker(server, tmp_path, "worker-scale")
    try:
        boot = server.bootstrap(plan="growth")
        with httpx.Client(base_url=server.url, timeout=30) as client:
            add_target(client, boot["api_key"], consumer.endpoint("/steady"), events=["messages.received"])
            for i in range(60):
                inbound(client, boot, {"type": "text", "text": {"body": f"pesan {i}"}})
            received = consumer.wait_for("/steady", 60, timeout=90)
            time.sleep(1.5)
            deliveries = Counter(r.headers["x-kirem-delivery"] for r in consumer.at("/steady"))
            assert len(received) == 60 and len(deliveries) == 60
            assert max(deliveries.values()) == 1, "a delivery was sent twice"
            assert len(delivered_event_ids(consumer, "/steady")) == 60
            stats: dict[str, Any] = client.get(
                "/v1/webhooks/deliveries",
                params={"status": "succeeded", "limit": 100},
                headers=auth(boot["api_key"]),
            ).json()["data"]
            assert stats["total"] == 60 and all(d["attempts"] == 1 for d in stats["deliveries"])
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        stop_server(process)
        asyncio.run(drop_postgres_database(url))


def test_worker_stops_gracefully_on_sigterm(tmp_path: Path, database_url: str, consumer: Consumer) -> None:
    process, server = start_server(tmp_path, database_url, KIREM_WORKER="false", **FAST_LEASES)
    worker = start_worker(server, tmp_path, "graceful")
    try:
        boot = server.bootstrap(plan="growth")
        with httpx.Client(base_url=server.url, timeout=30) as client:
            add_target(client, boot["api_key"], consumer.endpoint("/graceful"), events=["messages.received"])
            consumer.delay = 0.5
            inbound(client, boot, {"type": "text", "text": {"body": "halo"}})
            consumer.wait_for("/graceful", 1)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=40) == 0
            deliveries = client.get("/v1/webhooks/deliveries", headers=auth(boot["api_key"])).json()["data"]
            assert deliveries["deliveries"][0]["status"] == "succeeded"
    finally:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGKILL)
        stop_server(process)


def _webhook(index: int) -> bytes:
    return (
        b'{"object":"whatsapp_business_account","entry":[{"id":"209999999999999","changes":[{"field":'
        b'"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":'
        b'"15550000000","phone_number_id":"109999999999999"},"messages":[{"from":"62812345678","id":'
        b'"wamid.STREAM' + str(index).encode() + b'","timestamp":"1750000000","type":"text","text":'
        b'{"body":"pesan"}}]}}]}]}'
    )


async def _stream_until_killed(url: str, pid: int, kill_after: int) -> tuple[set[int], int]:
    """Post webhooks on 32 connections; SIGKILL the server after ``kill_after`` 200s.

    Returns the indexes answered 200 and how many requests got no answer (cut by the kill).
    """
    acknowledged: set[int] = set()
    unanswered = 0
    counter = iter(range(1_000_000))
    killed = False
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def post() -> None:
            nonlocal unanswered, killed
            while not killed:
                index = next(counter)
                body = _webhook(index)
                try:
                    answer = await client.post(
                        "/webhooks/meta",
                        content=body,
                        headers={"X-Hub-Signature-256": sign("meta-app-secret-e2e", body)},
                    )
                except httpx.TransportError:
                    unanswered += 1
                    return
                assert answer.status_code == 200, answer.text
                acknowledged.add(index)
                if len(acknowledged) >= kill_after and not killed:
                    killed = True
                    os.kill(pid, signal.SIGKILL)

        await asyncio.gather(*(post() for _ in range(32)))
    return acknowledged, unanswered


async def _stored_message_ids(database_url: str) -> set[str]:
    db = Database(Settings(database_url=database_url))
    try:
        async with db.session() as session:
            bodies = (await session.execute(select(RawEvent.body))).scalars()
            return {message["id"] for body in bodies for message in _messages(body)}
    finally:
        await db.dispose()


def _messages(body: bytes) -> list[dict[str, Any]]:
    return [m for e in json.loads(body)["entry"] for c in e["changes"] for m in c["value"]["messages"]]


def test_server_killed_during_group_commits_keeps_every_acknowledged_webhook(
    tmp_path: Path, database_url: str
) -> None:
    """Requests wait on shared batch transactions; a kill mid-stream loses none that got a 200."""
    process, server = start_server(tmp_path, database_url, KIREM_WORKER="false")
    try:
        acknowledged, unanswered = asyncio.run(_stream_until_killed(server.url, process.pid, 300))
    finally:
        process.kill()
        process.wait()
    assert unanswered > 0, "the kill came between requests, not while some waited on a commit"
    stored = asyncio.run(_stored_message_ids(database_url))
    assert {f"wamid.STREAM{index}" for index in acknowledged} <= stored
