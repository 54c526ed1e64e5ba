"""Shared fixtures: a registry app on a fresh SQLite file, and helpers to enroll devices."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, settings
from litestar.testing import AsyncTestClient

from field_sync import pack
from field_sync.keys import public_key_pem
from schemas import Op
from server import ServerConfig, create_app

pytest_plugins = ["tests.browser", "tests.databases", "tests.live", "tests.unchanged"]

# The mutation run's (`./dev mutants`, `--hypothesis-profile mutants`): the same examples every
# run, none kept from one mutant for the next, and no deadline for code slowed by mutmut's
# trampolines, so a mutant is killed by what a test asserts, never by chance or by time.
settings.register_profile("mutants", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])

ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json",
         "Accept": "application/json"}
TEMPLATE = "metrology_supervision@1"


@pytest.fixture
def server_config(tmp_path: Path, db_url: str) -> ServerConfig:
    return ServerConfig(data_dir=tmp_path / "registry", admin_token=ADMIN_TOKEN, db_url=db_url)


@pytest.fixture
async def client(server_config: ServerConfig) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(server_config)) as test_client:
        yield test_client


@dataclass
class Device:
    """An enrolled device as the server tests drive it, over JSON."""

    id: str
    token: str
    inspector_id: str
    seq: int = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                "Accept": "application/json"}

    def op(self, doc: str, path: str, value: object, hlc: int | None = None) -> Op:
        """This device's next op, stamped now unless ``hlc`` is given."""
        self.seq += 1
        stamp = hlc if hlc is not None else pack(time.time_ns() // 1_000_000, self.seq)
        return Op(self.id, self.seq, doc, path, value, stamp)

    def create(self, assignment: str, template: str = TEMPLATE) -> tuple[str, Op]:
        """A new protocol id and the op that creates it."""
        doc = str(uuid.uuid4())
        return doc, self.op(doc, "", {"_template": template, "_assignment": assignment})


async def add_inspector(client: AsyncTestClient, inspector_id: str) -> None:  # type: ignore[type-arg]
    body = {"id": inspector_id, "full_name": f"Inspector {inspector_id}"}
    response = await client.post("/v1/admin/inspectors", headers=ADMIN, json=body)
    assert response.status_code == 201, response.text


async def put_assignment(client: AsyncTestClient, assignment_id: str,  # type: ignore[type-arg]
                         team: list[str]) -> None:
    response = await client.put(f"/v1/admin/assignments/{assignment_id}", headers=ADMIN,
                                json={"id": assignment_id, "title": assignment_id,
                                      "inspectors": team})
    assert response.status_code == 200, response.text


async def enroll(client: AsyncTestClient, inspector_id: str) -> Device:  # type: ignore[type-arg]
    """Register the inspector if new, issue a code and enroll a fresh P-256 key with it."""
    known = await client.post("/v1/admin/inspectors", headers=ADMIN,
                              json={"id": inspector_id, "full_name": f"Inspector {inspector_id}"})
    assert known.status_code in (201, 409), known.text
    code = (await client.post(f"/v1/admin/inspectors/{inspector_id}/enrollment-codes",
                              headers=ADMIN)).json()["code"]
    key = ec.generate_private_key(ec.SECP256R1())
    response = await client.post("/v1/enroll", headers={"Content-Type": "application/json"},
                                 json={"code": code, "public_key": public_key_pem(key)})
    assert response.status_code == 201, response.text
    body = response.json()
    return Device(body["device_id"], body["token"], inspector_id)
