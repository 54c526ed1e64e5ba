"""Ingest of signed protocols in one process: the registry's push path for a tablet's day of
signatures, without HTTP, timed as CPU seconds of ``server.sync.ingest.ingest`` alone.

A tablet (``client_lib.Tablet``, talking to the registry's own code in process) fills and signs
``--protocols`` protocols, each confirmed by a biometric assertion of a software authenticator;
its outbox is then ingested in batches of ``--batch`` ops, on a fresh copy of the registry made
right before the pushes. ``--prepare DIR`` keeps that registry and the ops in ``DIR``;
``--ingest DIR`` only ingests them (the run to repeat, interleaved with another release's, or to
give to ``valgrind --tool=callgrind``, once more with ``--ops 0`` for the cost of starting).
Prints one JSON line.

    ./dev bench signed_ingest [--protocols N] [--batch OPS] [--runs R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import cbor2
import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from device import PASSPHRASE

from client_lib import Tablet
from field_sync.signing import b64url
from schemas import Assignment, EnrollRequest, EnrollResponse, InspectorCreate, Op, PushRequest
from schemas.signing import BiometricConfirmation
from server.api.auth import Caller, require_device
from server.authority.audit_anchor import current_checkpoint
from server.authority.keys import RegistryKeys
from server.authority.trust import trust_list
from server.config import ServerConfig
from server.data.catalog import TemplateCatalog
from server.data.database import Database
from server.data.reference import put_record
from server.routes import enrollment
from server.services.inspectors import create_inspector, issue_code, put_assignment
from server.signing.signatures import Signing
from server.sync.changes import Cursor, pull
from server.sync.ingest import ingest

TEMPLATE = "metrology_supervision@1"
RP_ID, ORIGIN = "field-sync.local", "https://field-sync.local"
_ops = msgspec.msgpack.Decoder(list[Op])


class _Authenticator:
    """A WebAuthn platform authenticator in software (P-256, user verified, a counter)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = b64url(secrets.token_bytes(16))
        self.count = 0

    def cose_public_key(self) -> str:
        numbers = self.key.public_key().public_numbers()
        return b64url(cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                                   -3: numbers.y.to_bytes(32, "big")}))

    def assertion(self, challenge: bytes) -> BiometricConfirmation:
        self.count += 1
        data = hashlib.sha256(RP_ID.encode()).digest() + bytes([0x05]) + \
            self.count.to_bytes(4, "big")
        client = json.dumps({"type": "webauthn.get", "challenge": b64url(challenge),
                             "origin": ORIGIN}).encode()
        signature = self.key.sign(data + hashlib.sha256(client).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        return BiometricConfirmation(self.credential_id, b64url(data), b64url(client),
                                     b64url(signature))


class _Registry:
    """The registry's own code on a database in ``folder``, as a tablet's transport."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.database = Database(f"sqlite:///{folder / 'field-sync.db'}")
        self.database.create_schema()
        self.keys = RegistryKeys.load(folder)
        self.config = ServerConfig(data_dir=folder, public_url="https://registry.test")
        self.catalog = TemplateCatalog()

    def caller(self, token: str) -> Caller:
        request: Any = type("Request", (), {"headers": {"authorization": f"Bearer {token}"}})
        return require_device(request, self.database)

    def enroll(self, request: EnrollRequest) -> EnrollResponse:
        return enrollment._enroll(self.database, self.keys, request, self.config.public_url)

    def pull(self, token: str, cursor: str) -> Any:
        caller = self.caller(token)
        with self.database.read() as session:
            page = pull(session, self.catalog, caller.inspector_id, Cursor.parse(cursor), 500,
                        time.time_ns() // 1_000_000, True, stored=True, packed=True)
        from schemas import PulledPage
        return msgspec.msgpack.decode(msgspec.msgpack.encode(page), type=PulledPage)

    def push(self, token: str, batch: PushRequest) -> Any:
        raise NotImplementedError("the benchmark ingests the outbox itself")

    def trust_list(self) -> Any:
        with self.database.read() as session:
            return trust_list(session, self.keys, time.time_ns() // 1_000_000,
                              self.config.public_url)

    def audit_checkpoint(self) -> Any:
        return current_checkpoint(self.database, self.keys, time.time_ns() // 1_000_000,
                                  self.config.audit_checkpoint_interval_ms)

    def ingest(self, caller: Caller, ops: list[Op]) -> int:
        results = ingest(self.database, self.catalog, caller, ops, time.time_ns() // 1_000_000,
                         self.config.max_clock_ahead_ms, Signing(self.keys, self.config))
        refused = [result for result in results if result.status != "accepted"]
        assert not refused, refused[:3]
        return len(results)


def _sign(tablet: Tablet, authenticator: _Authenticator, protocol: str) -> None:
    """Sign with an assertion over what this release binds it to."""
    if hasattr(tablet, "biometric_challenge"):
        at = tablet.signing_time(protocol)
        tablet.sign(protocol, authenticator.assertion(tablet.biometric_challenge(protocol, at)),
                    signed_at_ms=at)
    else:
        tablet.sign(protocol, authenticator.assertion(bytes.fromhex(tablet.content_hash(protocol))))


def prepare(folder: Path, protocols: int) -> None:
    """A registry in ``folder`` with one enrolled tablet, and its outbox of ``protocols``
    signed protocols (``ops.msgpack``), not yet pushed."""
    registry = _Registry(folder)
    inspector = "bench-inspector"
    create_inspector(registry.database, InspectorCreate(inspector, "Bench Inspector"))
    until = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365)).isoformat()
    put_record(registry.database, "inspector",
               {"id": inspector, "full_name": "Bench Inspector", "attested_until": until})
    put_assignment(registry.database, Assignment("bench-assignment", "bench", (inspector,)))
    code = issue_code(registry.database, registry.keys, inspector, 3600).code
    authenticator = _Authenticator()
    tablet = Tablet(folder / "tablet.sqlite", PASSPHRASE, transport=registry)  # type: ignore[arg-type]
    tablet.enroll(code, "https://registry.test",
                  biometric_credential_id=authenticator.credential_id,
                  biometric_public_key=authenticator.cose_public_key())
    tablet.pull()
    for index in range(protocols):
        protocol = tablet.create_protocol(TEMPLATE, "bench-assignment", {
            "number": f"TR-2026-{index:07d}", "started_at": "2026-11-20T10:00:00+05:00",
            "entity_tin": "301245678", "entity_name": "Toshkent un kombinati",
            "site_address": "Toshkent, Chilonzor 7", "lead_inspector": inspector,
            "conclusion": "compliant"})
        with tablet.edit(protocol) as edit:
            scale = edit.add_row("instruments", {"type": "scale", "serial": f"SN-{index}"})
            edit.add_row("measurements", {"instrument": scale, "nominal": "20.000",
                                          "indication": "20.010", "mpe": "0.020", "unit": "kg"})
        _sign(tablet, authenticator, protocol)
    ops = [entry.op for entry in tablet.store.outbox("pending")]
    (folder / "ops.msgpack").write_bytes(msgspec.msgpack.encode(ops))
    (folder / "token").write_text(tablet.store.get("token"))
    tablet.close()
    registry.database.dispose()


def ingest_prepared(folder: Path, batch: int, count: int | None = None) -> dict[str, float]:
    """Ingest the prepared outbox (its first ``count`` ops) on a copy of the prepared registry;
    CPU seconds."""
    with tempfile.TemporaryDirectory(prefix="field-sync-ingest-") as scratch:
        copy = Path(scratch) / "registry"
        shutil.copytree(folder, copy)
        registry = _Registry(copy)
        caller = registry.caller((copy / "token").read_text())
        ops = _ops.decode((copy / "ops.msgpack").read_bytes())[:count]
        started, wall = time.process_time(), time.perf_counter()
        for start in range(0, len(ops), batch):
            registry.ingest(caller, ops[start:start + batch])
        cpu, elapsed = time.process_time() - started, time.perf_counter() - wall
        registry.database.dispose()
    return {"ops": len(ops), "cpu_s": round(cpu, 4), "wall_s": round(elapsed, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--protocols", type=int, default=300)
    parser.add_argument("--batch", type=int, default=500, help="ops a push (default 500)")
    parser.add_argument("--runs", type=int, default=1, help="ingests of the same outbox")
    parser.add_argument("--prepare", type=Path, help="make the registry and outbox here, only")
    parser.add_argument("--ingest", type=Path, help="only ingest what --prepare made here")
    parser.add_argument("--ops", type=int, help="ingest only the first OPS ops (0: none, what "
                        "a count of instructions takes away as the cost of starting)")
    args = parser.parse_args()
    if args.prepare:
        args.prepare.mkdir(parents=True, exist_ok=True)
        prepare(args.prepare, args.protocols)
        return
    with tempfile.TemporaryDirectory(prefix="field-sync-bench-") as scratch:
        folder = args.ingest or Path(scratch)
        if not args.ingest:
            prepare(folder, args.protocols)
        runs = [ingest_prepared(folder, args.batch, args.ops) for _ in range(args.runs)]
    cpu = [run["cpu_s"] for run in runs]
    print(json.dumps({"protocols": args.protocols, "ops": runs[0]["ops"], "batch": args.batch,
                      "cpu_s": cpu, "cpu_median_s": statistics.median(cpu),
                      "cpu_ms_per_protocol": round(statistics.median(cpu) * 1000
                                                   / max(args.protocols, 1), 3)}))


if __name__ == "__main__":
    main()
