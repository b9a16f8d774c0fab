"""CPU per live send through the whole ASGI app in one process (Graph mocked), 32 in flight.

A figure the machine's load hardly moves (`time.process_time`): `--freeze` prepares the heap as
`kirem serve` does (`kirem.heap.prepare_heap`). Run: `.venv/bin/python bench/send_cpu.py [--freeze]`.
"""

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

from kirem.app import create_app
from kirem.config import Settings
from kirem.crypto import generate_key_spec
from kirem.db.migrate import upgrade_async
from kirem.heap import prepare_heap
from kirem.tenancy.bootstrap import bootstrap
from kirem.tenancy.channels import create_channel
from kirem.tenancy.service import find_account, find_project

PN = "106540352242922"
freeze = "--freeze" in sys.argv


def meta(request):
    to = json.loads(request.content)["to"] if request.content else "62812345678"
    return httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": "wamid.X" + to}],
        },
    )


async def main():
    d = Path(tempfile.mkdtemp())
    s = Settings(
        database_url=f"sqlite+aiosqlite:///{d}/k.db",
        data_dir=d / "data",
        encryption_key=generate_key_spec("x"),
        rate_limit_per_second=1e6,
        log_level="warning",
    )
    await upgrade_async(s)
    app = create_app(s, meta_transport=httpx.MockTransport(meta))
    ctx = app.state.ctx
    boot = await bootstrap(ctx, "co", "main", "enterprise")
    async with ctx.db.transaction() as session:
        account = await find_account(session, "co")
        project = await find_project(session, account, "main")
        await create_channel(
            ctx,
            session,
            account,
            project,
            {"kind": "live", "phone_number_id": PN, "waba_id": "102290129340398", "access_token": "EAAG"},
        )
    headers = [
        (b"authorization", f"Bearer {boot['api_key']}".encode()),
        (b"content-type", b"application/json"),
        (b"host", b"kirem"),
    ]
    counter = [0]

    async def one():
        counter[0] += 1
        body = json.dumps(
            {
                "messaging_product": "whatsapp",
                "to": f"628{counter[0]:09d}",
                "type": "template",
                "template": {"name": "hello_world", "language": {"code": "en_US"}},
            }
        ).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": f"/v1/{PN}/messages",
            "raw_path": f"/v1/{PN}/messages".encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        sent = False
        status = []

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)

        async def send(m):
            if m["type"] == "http.response.start":
                status.append(m["status"])

        await app(scope, receive, send)
        assert status == [201], status

    async def rounds(n):
        for _ in range(n):
            await asyncio.gather(*(one() for _ in range(32)))

    await rounds(5)
    if freeze:
        prepare_heap()
    for _ in range(3):
        start = time.process_time()
        await rounds(40)
        per_send = (time.process_time() - start) / (40 * 32) * 1000
        print(f"{'frozen' if freeze else 'plain'}: {per_send:.2f} ms CPU per send")
    await ctx.aclose()


asyncio.run(main())
