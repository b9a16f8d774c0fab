"""Schema fuzzing of the running server (schemathesis): no 5xx, every error in its documented body.

``kirem serve`` runs on each engine with a bootstrapped project. Schemathesis builds requests
from the server's ``/openapi.json`` completed with the documented request bodies
(``tests/e2e/fuzz_schemas.py``) for the public API (with the project's API key), the MCP endpoint,
the management API (account token), the operator API (operator token) and the Graph-compatible
paths (API key). Per operation it sends:

1. the documented request, with the bootstrap's real ids — it must succeed (on Graph-compatible
   GETs also with the key as ``?access_token=``, as Meta accepts it); a method the path does not
   have;
2. that request with each hostile probe (NUL byte, huge number, Unicode digits, path traversal,
   long text) swapped into each of its path, query and body values, one at a time;
3. ``KIREM_FUZZ_EXAMPLES`` (default 5) generated valid requests and as many that break the schema
   (path parameters are real ids or anything at all), derandomized, without shrinking.

Every answer must be below 500, free of stack traces, and on an error (4xx) in Kirem's wrapper
``{"status": <the HTTP status>, "message": "…", …}`` — or Meta's ``{"error": {"message", "type",
"code", …}}`` on a Graph-compatible path (``/v<major>.<minor>/…``), or a JSON-RPC error on
``/v1/mcp``. Every finding is collected and the test fails listing them all, each with a curl
command that repeats it. Raise ``KIREM_FUZZ_EXAMPLES`` by hand for a longer campaign.
"""

from __future__ import annotations

import copy
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode

from tests.conftest import ENGINES
from tests.e2e import fuzz_schemas
from tests.e2e.conftest import Server, auth, free_port, serving, wait_for

EXAMPLES = int(os.environ.get("KIREM_FUZZ_EXAMPLES", "5"))
OPERATOR_TOKEN = "operator-e2e"  # what tests/e2e/conftest.py starts the server with
GRAPH_PATH = re.compile(r"^/v\d+\.\d+/")
STACK_TRACE = re.compile(r'Traceback \(most recent call last\)|File "[^"]+", line \d+|sqlalchemy\.|asyncpg\.')


@pytest.fixture(scope="module", params=ENGINES)
async def fuzz_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    """A server of its own: the fuzzer fills it with junk, and the rate limit would only answer 429."""
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    async with serving(request.param, tmp, KIREM_RATE_LIMIT_PER_SECOND="100000") as srv:
        yield srv


# The project under fuzz ---------------------------------------------------------------------


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json()["data"])


def bootstrap(server: Server, http: httpx.Client) -> dict[str, Any]:
    """A project with a customer conversation, targets, rules, a delivery, media and a template,
    plus spare objects for operations that destroy what they are given."""
    boot = server.bootstrap(plan="enterprise")
    key, account = auth(boot["api_key"]), auth(boot["account_token"])

    def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        return _created(http.post(path, json=body, headers=headers))

    spare_account = post(
        "/v1/operator/accounts", {"name": "fuzz-spare", "plan": "growth"}, auth(OPERATOR_TOKEN)
    )
    spare_project = post("/v1/manage/projects", {"name": "fuzz-spare"}, account)["id"]
    spare_key = post(f"/v1/manage/projects/{spare_project}/keys", {"name": "spare"}, account)
    spare_channel = post(f"/v1/manage/projects/{spare_project}/channels", {"kind": "sandbox"}, account)
    for project_id, slug in ((boot["project_id"], "fuzz-main"), (spare_project, "fuzz-spare")):
        endpoint = {"slug": slug, "rate_limit_per_second": 1000}
        _created(http.put(f"/v1/manage/projects/{project_id}/mcp-endpoint", json=endpoint, headers=account))
    mcp_key = post(f"/v1/manage/projects/{boot['project_id']}/keys", {"scope": "mcp"}, account)["key"]
    sla = {"window_seconds": 3600, "min_success_rate": 0.99}
    _created(http.put(f"/v1/manage/projects/{spare_project}/sla", json=sla, headers=account))

    nowhere = f"http://127.0.0.1:{free_port()}/hook"  # refused at once: deliveries fail and wait
    target = post("/v1/webhooks/targets", {"url": nowhere}, key)["id"]
    spare_target = post("/v1/webhooks/targets", {"url": nowhere, "description": "spare"}, key)["id"]
    rule = {"name": "fuzz", "conditions": {"keywords": ["halo"]}, "target_ids": [target]}
    rule_id = post("/v1/webhooks/rules", rule, key)["id"]
    spare_rule = post("/v1/webhooks/rules", {**rule, "name": "spare"}, key)["id"]
    link = {"client_name": "Fuzz client", "redirect_url": "https://agency.example/done"}
    link_id, spare_link = (post("/v1/setup-links", link, key)["id"] for _ in range(2))
    user_id, spare_user = (
        post(
            "/v1/manage/users",
            {"email": f"fuzz-{n}@example.com", "password": "correct horse battery"},
            account,
        )["id"]
        for n in range(2)
    )

    inbound = {
        "phone_number_id": boot["phone_number_id"],
        "from": fuzz_schemas.CUSTOMER,
        "profile_name": "Budi",
        "message": {"type": "text", "text": {"body": "Halo"}},
    }
    answer = http.post("/sandbox/v1/inbound", json=inbound)
    assert answer.status_code == 200, answer.text

    def first_delivery() -> dict[str, Any] | None:  # of the target that stays (the spare one goes)
        listing = http.get("/v1/webhooks/deliveries", params={"target_id": target}, headers=key)
        return next(iter(listing.json()["data"]["deliveries"]), None)

    delivery = wait_for(first_delivery)
    assert delivery, "the customer's message made no delivery"
    conversations = http.get("/v1/conversations", headers=key).json()["data"]["conversations"]

    upload, spare_upload, spare_graph_upload = (
        http.post(
            "/v1/media",
            files={"file": ("pixel.png", fuzz_schemas.PNG, "image/png")},
            data={"messaging_product": "whatsapp"},
            headers=key,
        )
        for _ in range(3)
    )
    template = {
        "name": "fuzz_order_ready",
        "category": "UTILITY",
        "language": "en_US",
        "components": [{"type": "BODY", "text": "Order {{1}} is ready", "example": {"body_text": [["A1"]]}}],
    }
    post("/v1/templates", template, key)
    return {
        "api_key": boot["api_key"],
        "nowhere": nowhere,
        "inbound_wamid": answer.json()["wamid"],
        "account_token": boot["account_token"],
        "phone_number_id": boot["phone_number_id"],
        "waba_id": boot["waba_id"],
        "media_id": _created(upload)["id"],
        "spare_media_id": _created(spare_upload)["id"],
        "spare_graph_media_id": _created(spare_graph_upload)["id"],
        "template_name": template["name"],
        "target_id": target,
        "spare_target_id": spare_target,
        "rule_id": rule_id,
        "spare_rule_id": spare_rule,
        "delivery_id": delivery["id"],
        "event_id": delivery["event_id"],
        "conversation_id": conversations[0]["id"],
        "spare_project_id": spare_project,
        "spare_key_id": spare_key["id"],
        "spare_channel_id": spare_channel["id"],
        "spare_account_id": spare_account["id"],
        "mcp_slug": "fuzz-main",
        "spare_mcp_slug": "fuzz-spare",
        "mcp_key": mcp_key,
        "link_id": link_id,
        "spare_link_id": spare_link,
        "user_id": user_id,
        "spare_user_id": spare_user,
    }


def credential(ids: dict[str, Any], path: str) -> dict[str, str]:
    """API key for /v1 and Graph-compatible paths, account token for /v1/manage, operator token."""
    if path.startswith("/v1/manage/"):
        return auth(ids["account_token"])
    if path.startswith("/v1/operator/"):
        return auth(OPERATOR_TOKEN)
    if path.startswith("/webhooks/meta"):
        return {}
    if path.startswith("/v1/mcp/"):
        return auth(ids["mcp_key"])
    return auth(ids["api_key"])


# The checks ---------------------------------------------------------------------------------


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def is_kirem_error(body: Any, status: int) -> bool:
    return (
        isinstance(body, dict)
        and body.get("status") == status
        and isinstance(body.get("message"), str)
        and bool(body["message"])
    )


def is_meta_error(body: Any) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return (
        isinstance(error, dict)
        and isinstance(error.get("message"), str)
        and isinstance(error.get("type"), str)
        and isinstance(error.get("code"), int)
    )


def is_jsonrpc_error(body: Any) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return (
        isinstance(body, dict)
        and body.get("jsonrpc") == "2.0"
        and isinstance(error, dict)
        and isinstance(error.get("code"), int)
        and isinstance(error.get("message"), str)
    )


def text(response: Any) -> str:
    return str(response.content.decode("utf-8", "replace"))


def problems(response: Any) -> list[str]:
    """What is wrong with one answer (nothing for a good one)."""
    status = response.status_code
    path = unquote(urlsplit(response.request.url or "").path)
    found = []
    if status >= 500:
        found.append(f"{status}")
    if STACK_TRACE.search(text(response)):
        found.append("a stack trace in the body")
    if status >= 400:
        body = _json(response)
        if GRAPH_PATH.match(path):
            if not is_meta_error(body):
                kind = "Kirem's wrapper" if is_kirem_error(body, status) else "no error body"
                found.append(f"{status} with {kind} instead of Meta's error body")
        elif path.rstrip("/") == "/v1/mcp" or path.startswith("/v1/mcp/"):
            if not (is_kirem_error(body, status) or is_jsonrpc_error(body)):
                found.append(f"{status} in neither the wrapper nor a JSON-RPC error")
        elif not is_kirem_error(body, status):
            found.append(f"{status} not in the error wrapper")
    return found


# The plan: cases generated once, sent to every engine ------------------------------------


@dataclass
class Planned:
    name: str
    case: Any
    documented: bool
    token_in_query: bool = False
    """The API key as ``?access_token=`` (as Meta's SDKs may send it) instead of the header."""


UNDECLARED_METHODS = ("PUT", "PATCH", "DELETE", "POST", "GET")


def _has_something_to_break(document: dict[str, Any], method: str, path: str) -> bool:
    operation = document["paths"][path][method]
    return "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", []))


def _documented_fields(operation: Any) -> dict[str, Any]:
    key = (operation.method.lower(), operation.path)
    example = fuzz_schemas.DOCUMENTED.get(key, {})
    values = fuzz_schemas.path_values(*key)
    fields: dict[str, Any] = {
        "path_parameters": {p.name: values[p.name] for p in operation.path_parameters},
        "query": dict(example.get("query", {})),
    }
    if "body" in example:
        upload = "file" in example["body"]
        fields["body"] = copy.deepcopy(example["body"])
        fields["media_type"] = "multipart/form-data" if upload else "application/json"
        fields["multipart_content_types"] = {"file": "image/png"} if upload else None
    return fields


def _leaves(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*at, index))
    else:
        yield at


def _replace(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    if not at:
        return new
    changed = copy.deepcopy(value)
    holder = changed
    for step in at[:-1]:
        holder = holder[step]
    holder[at[-1]] = new
    return changed


def _hostile_cases(operation: Any) -> Iterator[Any]:
    """The documented request with one value at a time swapped for each of the hostile probes
    (every path and query parameter, every leaf of the documented body), and its JSON body sent
    as another content type."""
    fields = _documented_fields(operation)
    slots = [("path_parameters", (p.name,)) for p in operation.path_parameters]
    slots += [("query", (p.name,)) for p in operation.query]
    slots += [("body", at) for at in _leaves(fields["body"])] if "body" in fields else []
    for container, at in slots:
        for probe in fuzz_schemas.HOSTILE_PROBES:
            if container != "body" and not isinstance(probe, str):
                continue  # a URL carries text only: the number is already probed as digits
            yield operation.Case(**{**fields, container: _replace(fields[container], at, probe)})
    if fields.get("media_type") == "application/json":
        yield operation.Case(**{**fields, "media_type": "text/plain", "body": '{"not": "declared as JSON"}'})


def _generated(operation: Any, mode: GenerationMode) -> list[Any]:
    cases: list[Any] = []

    @hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # nothing fails inside: no shrinking
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def collect(case: Any) -> None:
        cases.append(case)

    try:
        collect()
    except hypothesis.errors.Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise  # only a schema with nothing to break has no negative case
    return cases


_PLAN: list[Planned] = []


def plan(served: dict[str, Any]) -> list[Planned]:
    """Per operation: its documented request, hostile variants of it, then valid and
    schema-breaking generated ones.

    Generated once per run (the same for every engine: ids are placeholders until sent).
    """
    if _PLAN:
        return _PLAN
    document = fuzz_schemas.augment(served)
    schema = schemathesis.openapi.from_dict(document)
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        fields = _documented_fields(operation)
        _PLAN.append(Planned(name, operation.Case(**fields), documented=True))
        declared = {method.upper() for method in document["paths"][operation.path]}
        if operation.method.upper() == sorted(declared)[0]:  # once per path: a method it does not have
            method = next(m for m in UNDECLARED_METHODS if m not in declared)
            case = operation.Case(method=method, path_parameters=fields["path_parameters"])
            _PLAN.append(Planned(f"{method} {operation.path}", case, documented=False))
        if operation.method == "get" and GRAPH_PATH.match(operation.path.replace("{version}", "1.0")):
            query = {**fields["query"], "access_token": fuzz_schemas.real("api_key")}
            case = operation.Case(**{**fields, "query": query})
            _PLAN.append(Planned(name + " ?access_token=", case, documented=True, token_in_query=True))
        _PLAN.extend(Planned(name, case, documented=False) for case in _hostile_cases(operation))
        modes = [GenerationMode.POSITIVE]
        if _has_something_to_break(document, operation.method.lower(), operation.path):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            _PLAN.extend(Planned(name, case, documented=False) for case in _generated(operation, mode))
    return _PLAN


PLACEHOLDER = re.compile(r"<(\w+)>")


def resolve(value: Any, ids: dict[str, Any]) -> Any:
    """``value`` with every placeholder of a bootstrapped id replaced by the id itself."""
    if isinstance(value, str):
        match = PLACEHOLDER.fullmatch(value)
        return ids[match[1]] if match and match[1] in ids else value
    if isinstance(value, dict):
        return {k: resolve(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    return value


def for_server(case: Any, ids: dict[str, Any]) -> Any:
    return case.operation.Case(
        method=case.method,
        path_parameters=resolve(case.path_parameters, ids),
        headers=case.headers,
        query=resolve(case.query, ids),
        body=resolve(case.body, ids),
        media_type=case.media_type,
        multipart_content_types=case.multipart_content_types,
    )


# The run ------------------------------------------------------------------------------------


@dataclass
class Finding:
    operation: str
    problem: str
    example: str
    answer: str
    count: int = 1


@dataclass
class Findings:
    by_key: dict[tuple[str, str], Finding] = field(default_factory=dict)
    requests: int = 0

    def add(self, operation: str, problem: str, example: str, answer: str) -> None:
        key = (operation, re.sub(r"^(\d)\d\d", r"\1xx", problem))
        if key in self.by_key:
            self.by_key[key].count += 1
        else:
            self.by_key[key] = Finding(operation, problem, example, answer[:300])

    def report(self) -> str:
        lines = [f"{len(self.by_key)} kinds of failure in {self.requests} requests:"]
        for finding in self.by_key.values():
            lines += [
                f"- {finding.operation}: {finding.problem} (x{finding.count})",
                f"    {finding.example}",
                f"    -> {finding.answer}",
            ]
        return "\n".join(lines)


def test_fuzzing_finds_no_server_error_and_every_error_in_its_documented_body(fuzz_server: Server) -> None:
    with httpx.Client(base_url=fuzz_server.url, timeout=30) as http:
        ids = bootstrap(fuzz_server, http)
        planned = plan(http.get("/openapi.json").json())
    findings = Findings()
    session = requests.Session()
    started = time.monotonic()
    for item in planned:
        findings.requests += 1
        case = for_server(item.case, ids)
        headers = {} if item.token_in_query else credential(ids, case.path)
        example = case.as_curl_command(
            headers={k: "Bearer <credential>" for k in headers}, base_url=fuzz_server.url
        )
        try:
            response = case.call(base_url=fuzz_server.url, session=session, headers=headers, timeout=30)
        except requests.RequestException as exc:
            findings.add(item.name, f"no answer ({type(exc).__name__})", example, str(exc))
            continue
        for problem in problems(response):
            findings.add(item.name, problem, example, text(response))
        expected_refusal = (case.method.lower(), case.path) in fuzz_schemas.REFUSED_WHEN_VALID
        if item.documented and not expected_refusal and response.status_code >= 300:
            findings.add(
                item.name, f"documented request refused with {response.status_code}", example, text(response)
            )
    print(f"fuzzed {findings.requests} requests in {time.monotonic() - started:.0f}s")
    assert not findings.by_key, findings.report()
