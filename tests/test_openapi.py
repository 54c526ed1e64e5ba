"""The registry's OpenAPI document, and a bounded schemathesis run against a real
`field-sync serve` built from it: as the administrator, an enrolled device, a supervisor and
anyone, no operation answers 5xx, every answer is one the document describes, and the audit
chain still verifies afterwards.

The run is bounded and repeatable: a few examples an operation, role and mode (data that fits
the document, and data that does not), derandomized, no shrinking, no example database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import hypothesis.errors
import msgspec
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, Phase, given, reject, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from field_sync.keys import public_key_pem
from field_sync.registry_pin import RegistryPin
from field_sync_cli.local_server import LocalServer
from server import Database
from server.app import create_app
from server.authority.audit import verify_chain
from server.authority.audit_anchor import check_checkpoint, newest_checkpoint
from server.config import ServerConfig
from tests.live import registry_process

pytestmark = pytest.mark.e2e

EXAMPLES = 5
"""Examples an operation, role and mode, where the role may call the operation; where it may
not, a couple only, to see the door refuse it."""
AT_THE_DOOR = 2
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
ROLES = ("administrator", "device", "supervisor", "anyone")


@schemathesis.serializer("application/msgpack")
def _msgpack(_context: schemathesis.SerializationContext, value: Any) -> dict[str, Any]:
    try:
        return {"data": msgspec.msgpack.encode(value)}
    except OverflowError:  # an integer MessagePack cannot carry: JSON examples send those
        reject()


@schemathesis.serializer("text/csv", "application/jsonl")
def _text(_context: schemathesis.SerializationContext, value: Any) -> dict[str, Any]:
    return {"data": value.encode() if isinstance(value, str) else msgspec.json.encode(value)}


@schemathesis.deserializer("application/msgpack")
def _unpack(_context: schemathesis.DeserializationContext, response: Any) -> Any:
    return msgspec.msgpack.decode(response.content)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A registry of its own: the run leaves random records behind."""
    with registry_process(tmp_path_factory.mktemp("schemathesis")) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(registry: LocalServer) -> dict[str, dict[str, str]]:
    """The bearer token of each role: an inspector on a team, the tablet it enrolled, and a
    supervisor, so that the run reaches past the door of every operation."""
    admin = {"Authorization": f"Bearer {registry.admin_token}"}
    with httpx.Client(base_url=registry.url, headers={"Accept": "application/json"}) as http:
        assert http.post("/v1/admin/inspectors", headers=admin,
                         json={"id": "insp-st", "full_name": "Schema Tester"}).is_success
        assert http.put("/v1/admin/assignments/asg-st", headers=admin, json={
            "id": "asg-st", "title": "schemathesis", "inspectors": ["insp-st"]}).is_success
        code = http.post("/v1/admin/inspectors/insp-st/enrollment-codes", headers=admin)
        key = ec.generate_private_key(ec.SECP256R1())
        device = http.post("/v1/enroll", json={"code": code.json()["code"],
                                                "public_key": public_key_pem(key)})
        supervisor = http.post("/v1/admin/supervisors/", headers=admin,
                               json={"id": "sup-st", "full_name": "Schema Supervisor"})
    return {"administrator": admin, "device": {"Authorization": f"Bearer {device.json()['token']}"},
            "supervisor": {"Authorization": f"Bearer {supervisor.json()['token']}"},
            "anyone": {}}


@pytest.fixture(scope="module")
def document(registry: LocalServer) -> dict[str, Any]:
    response = httpx.get(f"{registry.url}/schema")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    document: dict[str, Any] = response.json()
    return document


# -- the document -----------------------------------------------------------------------------

def test_the_document_is_served_with_its_bearer_tokens(registry: LocalServer,
                                                       document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    assert httpx.get(f"{registry.url}/schema/openapi.json").json() == document
    schemes = document["components"]["securitySchemes"]
    assert {name: (scheme["type"], scheme["scheme"]) for name, scheme in schemes.items()} == \
        dict.fromkeys(("administrator", "device", "supervisor"), ("http", "bearer"))
    operations = {(method.upper(), path): operation
                  for path, item in document["paths"].items() for method, operation in item.items()}
    security = {key: [next(iter(need)) for need in operation.get("security", [])]
                for key, operation in operations.items()}
    assert security[("POST", "/v1/push")] == ["device"]
    assert security[("PUT", "/v1/admin/reference/{kind}/{key}")] == ["administrator"]
    assert security[("GET", "/v1/registry/protocols")] == ["supervisor", "administrator"]
    assert security[("GET", "/v1/protocols/{protocol_id}")] == ["administrator", "device"]
    for public in (("GET", "/v1/trust-list"), ("GET", "/v1/verify/{seal}"),
                   ("POST", "/v1/enroll"), ("GET", "/health")):
        assert security[public] == [], public


PAGES = ("/console", "/static/", "/brand/", "/v/", "/V/", "/check", "/metrics", "/schema")
"""What is not the API: the console's and the public's pages, static files, the metrics'
text for Prometheus, and this document itself."""
ENDPOINTS = {("POST", "/v1/blobs/missing"), ("PUT", "/v1/protocols/{protocol_id}/blobs/{sha256}"),
             ("GET", "/v1/protocols/{protocol_id}/blobs/{sha256}"),
             ("GET", "/v1/protocols/{protocol_id}/blobs/{sha256}/thumbnail"),
             ("GET", "/v1/check"), ("GET", "/v1/registry-key"), ("GET", "/v1/audit/checkpoint"),
             ("POST", "/v1/supervisor/protocols/{protocol_id}/clear"),
             ("POST", "/v1/supervisor/protocols/{protocol_id}/annul"),
             ("GET", "/v1/protocols/{protocol_id}/document.pdf"), ("GET", "/ready")}
"""Endpoints the run must reach, among the rest: evidence files, the check by number, the
registry key and the audit checkpoint, a supervisor's acts, the printed protocol."""


def test_every_route_is_declared_or_is_a_page(document: dict[str, Any],
                                              tmp_path: Path) -> None:
    """A route is in the document with its bodies, its refusals and who may call it
    (``server.api.openapi.documented``, ``security=``; one that needs no token says it is public),
    or it is a page and left out; so the run below reaches every endpoint there is."""
    operations = {(method.upper(), path): operation
                  for path, item in document["paths"].items() for method, operation in item.items()}
    assert not ENDPOINTS - set(operations), ENDPOINTS - set(operations)
    served = {(method, re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path))
              for route in create_app(ServerConfig(data_dir=tmp_path)).routes
              for handler in getattr(route, "route_handlers", ())
              for method in handler.http_methods - {"HEAD", "OPTIONS"}}
    pages = {(method, path) for method, path in served if path.startswith(PAGES)}
    assert served - pages == set(operations), "a route is neither declared nor a page"
    for key, operation in operations.items():
        assert "4XX" in operation["responses"], f"{key}: not declared with documented()"
        assert operation.get("security") or operation["description"].startswith("Public"), key


def _body(part: dict[str, Any]) -> dict[str, str]:
    """Media type to the schema it names."""
    return {media: spec["schema"].get("$ref", spec["schema"].get("type", ""))
            for media, spec in part["content"].items()}


def test_the_document_describes_the_real_bodies(document: dict[str, Any]) -> None:
    """Each body in MessagePack and JSON alike, as msgspec describes it: an op travels as an
    array; a bound is in the schema; every refusal is a problem detail."""
    push = document["paths"]["/v1/push"]["post"]
    ref = "#/components/schemas/{}".format
    assert _body(push["requestBody"]) == {"application/msgpack": ref("PushRequest"),
                                          "application/json": ref("PushRequest")}
    assert _body(push["responses"]["200"]) == {"application/msgpack": ref("PushResponse"),
                                               "application/json": ref("PushResponse")}
    assert _body(push["responses"]["4XX"]) == {"application/problem+json": ref("Problem")}
    schemas = document["components"]["schemas"]
    op = schemas["Op"]
    assert (op["type"], len(op["prefixItems"])) == ("array", 6)
    assert schemas["Revocation"]["properties"]["after_ms"]["maximum"] == 2**63 - 1
    assert schemas["Inspector"]["properties"]["id"]["maxLength"] == 64
    pull = document["paths"]["/v1/pull"]["get"]
    assert _body(pull["responses"]["200"])["application/json"] == ref("PullResponse")
    audit = {parameter["name"]: parameter["schema"] for parameter in
             document["paths"]["/v1/supervisor/audit"]["get"]["parameters"]}
    assert (audit["after"]["minimum"], audit["limit"]["maximum"]) == (0, 1000)
    imported = document["paths"]["/v1/admin/import"]["post"]
    assert _body(imported["requestBody"]) == {"text/csv": "string", "application/jsonl": "string"}
    assert _body(document["paths"]["/v1/verify/{seal}"]["get"]["responses"]["200"])[
        "application/json"] == ref("Verdict")


# -- the run ----------------------------------------------------------------------------------

def _negatable(operation: Any) -> bool:
    """Whether the document leaves any request that does not fit it: a body, or a parameter
    with a bound (one that takes any string leaves none to make)."""
    raw = operation.definition.raw
    return "requestBody" in raw or any(
        set(parameter.get("schema", {})) - {"type", "default"}
        for parameter in raw.get("parameters", []))


def _admits(operation: Any, role: str) -> bool:
    """Whether the document says ``role`` may call ``operation`` (anyone may call a public
    one)."""
    needs = [scheme for need in operation.definition.raw.get("security", []) for scheme in need]
    return not needs or role in needs


def _exercise(operation: Any, mode: GenerationMode, url: str, headers: dict[str, str],
              examples: int) -> list[str]:
    """Run ``operation`` in ``mode``; each answer that breaks a check, described."""
    failures: list[str] = []

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=url, headers=headers, timeout=60)
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, schemathesis.errors.FailureGroup) as failed:
            found = failed.exceptions if isinstance(failed, BaseExceptionGroup) else [failed]
            failures.extend(f"{operation.label} ({mode}): {response.status_code} "
                            f"{str(one).splitlines()[0]}\n  {case.as_curl_command()}"
                            for one in found)

    with suppress(hypothesis.errors.Unsatisfiable):  # each example it made fit the document
        run()
    return failures


@pytest.mark.parametrize("role", ROLES)
def test_no_operation_answers_5xx_or_strays_from_the_document(
        registry: LocalServer, tokens: dict[str, dict[str, str]], role: str) -> None:
    api = schemathesis.openapi.from_url(f"{registry.url}/schema/openapi.json")
    failures = []
    for result in api.get_all_operations():
        operation = result.ok()
        admitted = _admits(operation, role)
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE]
                                              if admitted and _negatable(operation) else [])
        for mode in modes:
            failures += _exercise(operation, mode, registry.url, tokens[role],
                                  EXAMPLES if admitted else AT_THE_DOOR)
    assert not failures, "\n".join(failures)
    pin = RegistryPin.of_key(httpx.get(f"{registry.url}/v1/registry-key", headers={
        "Accept": "application/json"}).json()["public_key"])
    database = Database(registry.db_url)
    try:
        with database.read() as session:
            entries, broken = verify_chain(session)
            checkpoint = newest_checkpoint(session)
            missed = None if checkpoint is None else check_checkpoint(session, checkpoint, pin)
    finally:
        database.dispose()
    assert entries and broken is None, broken
    assert missed is None, missed  # the run asked for checkpoints: the log still reaches them
