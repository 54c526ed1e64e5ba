"""Check by number is rate-limited per client (429 with Retry-After, and nothing counted for the
empty form), and documented with its types in the OpenAPI; the agency's logo is served as
configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.testing import AsyncTestClient

from server import ServerConfig, create_app
from server.api.guards import provide_registry
from server.routes.check import check_json
from tests.conftest import ADMIN_TOKEN

LOGO = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1"/></svg>'


@pytest.fixture
async def limited(tmp_path: Path, db_url: str) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    (tmp_path / "logo.svg").write_bytes(LOGO)
    config = ServerConfig(data_dir=tmp_path / "registry", admin_token=ADMIN_TOKEN, db_url=db_url,
                          check_requests_per_minute=3, agency_logo=tmp_path / "logo.svg",
                          agency_name_en="Standards Agency of Testland")
    async with AsyncTestClient(app=create_app(config)) as client:
        yield client


async def test_checks_past_the_limit_are_told_when_to_come_back(
        limited: AsyncTestClient) -> None:  # type: ignore[type-arg]
    for _ in range(3):
        assert (await limited.get("/check")).status_code == 200  # the empty form: not counted
    for index in range(3):
        page = "/check" if index == 0 else "/v1/check"
        answer = await limited.get(page, params={"number": "TR-1", "stir": "301245678"})
        assert answer.status_code == 200, answer.text
    refused = await limited.get("/v1/check", params={"number": "TR-1", "stir": "301245678"})
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "too_many_requests"
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert (await limited.get("/check", params={"number": "TR-1", "stir": "301245678"})
            ).status_code == 429


async def test_the_logo_and_the_name_come_from_the_settings(
        limited: AsyncTestClient) -> None:  # type: ignore[type-arg]
    page = (await limited.get("/check", params={"lang": "en"})).text
    assert "Standards Agency of Testland" in page
    assert 'src="/brand/logo?v=' in page
    logo = await limited.get("/brand/logo")
    assert logo.status_code == 200 and logo.content == LOGO
    assert logo.headers["content-type"].startswith("image/svg+xml")
    uzbek = (await limited.get("/check")).text  # a language the setting leaves out
    assert "Oʻzbekiston texnik jihatdan tartibga solish agentligi" in uzbek


@pytest.mark.database_free
def test_the_check_is_documented_with_its_types() -> None:
    app = Litestar([check_json], openapi_config=OpenAPIConfig("registry", "1"),
                   dependencies={"registry": Provide(provide_registry, sync_to_thread=False)})
    schema = app.openapi_schema
    operation = schema.paths["/v1/check"].get  # type: ignore[index, union-attr]
    assert operation is not None
    parameters = {p.name: p for p in operation.parameters or []}  # type: ignore[union-attr]
    assert parameters["number"].required and parameters["stir"].required
    assert parameters["stir"].schema.pattern == "^[0-9]{9}$"  # type: ignore[union-attr]
    answer = schema.components.schemas["CheckAnswer"]  # type: ignore[index]
    assert set(answer.properties) == {"number", "stir", "found", "protocols"}  # type: ignore[arg-type]
    checked = schema.components.schemas["CheckedProtocol"]  # type: ignore[index]
    status = checked.properties["status"]  # type: ignore[index]
    assert set(status.enum) == {"registered", "superseded", "annulled",  # type: ignore[union-attr]
                                "not_registered"}
