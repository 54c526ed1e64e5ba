"""A protocol pushed whole and signed gets the op path's signing-time checks, to the row.

Two registries that require signed freezes, as ``serve`` does, start as copies of one another
with two devices enrolled (one of them revoked). Every example pushes a new protocol, its
freeze signed by the device key at its end, to both: whole to one, op by op to the other, with
other new protocols of the same device before it, pushed whole too. Each fault dates or
tells the signature wrong in one way the registry refuses: the answers must be the same, and so
must every row either registry holds after it, the device's latest stamp and each signature's
offline gap among them.
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pyotp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from field_sync import content_hash, pack, replay
from field_sync.freeze import Freeze
from field_sync.keys import public_key_pem
from field_sync.seal import claim_for, make_seal
from field_sync.signing import sign_canonical
from schemas import EnrollRequest, Op, WholeProtocol
from schemas.signing import RegistryTime, SignedProtocol, SigningStatement, TotpConfirmation
from server.api.auth import Caller
from server.authority.registry_time import tell
from server.authority.revocation import revoke_device
from server.data.reference import put_record
from server.data.tables import DeviceKeyRow
from server.sync.ingest import Answers, ingest
from tests.databases import copy_database, dispose_database, fresh_database
from tests.inprocess import InProcessRegistry
from tests.strategies import METROLOGY, filled_protocols
from tests.test_whole_push import held_rows, ordered, whole_protocol

INSPECTOR, ASSIGNMENT = "inspector-signs-whole", "asg-signs-whole"
AHEAD_MS = 300_000
_STEP_MS = 90_000
"""Each example's registry time is this much after the last: a one-time code of its own."""
_TABLES = {"protocol": "id", "op_log": "doc, changed", "held_op": "actor, seq",
           "audit_entry": "seq", "receipt": "protocol_id", "change_counter": "id",
           "device": "id", "used_totp_step": "inspector_id, step",
           "totp_secret": "inspector_id"}
_BLOCKS = itertools.count(1)


@dataclasses.dataclass
class _Device:
    """An enrolled device: its id, signing key and key id."""

    id: str
    key: ec.EllipticCurvePrivateKey
    kid: str
    valid_from_ms: int


@dataclasses.dataclass
class _Registries:
    whole: InProcessRegistry
    one_by_one: InProcessRegistry
    signer: _Device
    revoked: _Device
    totp: pyotp.TOTP
    now_ms: int


def _enrolled(registry: InProcessRegistry) -> _Device:
    key = ec.generate_private_key(ec.SECP256R1())
    answer = registry.transport.enroll(EnrollRequest(registry.enrollment_code(INSPECTOR),
                                                     public_key_pem(key)))
    with registry.database.read() as session:
        row = session.get(DeviceKeyRow, answer.kid)
        assert row is not None
        return _Device(answer.device_id, key, answer.kid, row.valid_from_ms)


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Registries]:
    folder: Path = tmp_path_factory.mktemp("whole-signed")
    url = fresh_database(folder / "whole")
    whole = InProcessRegistry(folder / "whole", url, signed_freezes=True)
    whole.add_inspector(INSPECTOR)
    put_record(whole.database, "inspector", {"id": INSPECTOR, "full_name": "Inspector",
                                             "attested_until": "2099-12-31"})
    whole.put_assignment(ASSIGNMENT, [INSPECTOR])
    signer, revoked = _enrolled(whole), _enrolled(whole)
    revoke_device(whole.database, revoked.id)
    totp = pyotp.parse_uri(whole.totp_uris[INSPECTOR])
    assert isinstance(totp, pyotp.TOTP)
    shutil.copytree(folder / "whole", folder / "ops", ignore=shutil.ignore_patterns("*.db*"))
    whole.database.writer.dispose()  # PostgreSQL copies a database nobody is connected to
    ops = InProcessRegistry(folder / "ops", copy_database(url, folder / "ops"),
                            signed_freezes=True)
    yield _Registries(whole, ops, signer, revoked, totp, max(whole.clock(), ops.clock()))
    for registry in (whole, ops):
        registry.close()
        dispose_database(registry.database.url)


@dataclasses.dataclass(frozen=True)
class _Dating:
    """When a signature says it was made, what it was told, and when its ops were."""

    signed_at: int
    told: RegistryTime | None
    ops_at: int
    """The stamp of the signed protocol's first op (they follow a millisecond apart)."""
    others_at: int
    """The stamp of the first op of the protocols pushed before it."""


Fault = Callable[[_Registries, _Device, int], _Dating]


def _honest(world: _Registries, device: _Device, now: int) -> _Dating:
    return _Dating(now - 1_000, tell(world.whole.keys, device.id, now - 20_000),
                   now - 15_000, now - 30_000)


def _changed(**changes: Callable[[_Registries, _Device, _Dating], Any]) -> Fault:
    """The honest dating with ``changes``, each a function of the honest one."""
    def fault(world: _Registries, device: _Device, now: int) -> _Dating:
        honest = _honest(world, device, now)
        return dataclasses.replace(honest, **{name: change(world, device, honest)
                                              for name, change in changes.items()})
    return fault


FAULTS: dict[str, tuple[Fault, str]] = {
    "honest": (_honest, ""),
    "registry_time_missing": (_changed(told=lambda w, d, h: None), "registry_time_missing"),
    "registry_time_invalid": (_changed(told=lambda w, d, h: tell(
        w.whole.keys, "another-device", h.signed_at)), "registry_time_invalid"),
    "before_registry_time": (_changed(told=lambda w, d, h: tell(
        w.whole.keys, d.id, h.signed_at + 1)), "signed_before_registry_time"),
    "before_its_own_ops": (_changed(ops_at=lambda w, d, h: h.signed_at + 1),
                           "signed_before_earlier_op"),
    # The protocols pushed whole before it, taken in one pass, carry later stamps.
    "before_earlier_protocols": (_changed(others_at=lambda w, d, h: h.signed_at + 1),
                                 "signed_before_earlier_op"),
    "in_future": (_changed(signed_at=lambda w, d, h: h.signed_at + 1_000 + AHEAD_MS + 1),
                  "signed_in_future"),
    "key_not_yet_valid": (_changed(
        signed_at=lambda w, d, h: d.valid_from_ms - 1,
        told=lambda w, d, h: tell(w.whole.keys, d.id, d.valid_from_ms - 60_000),
        ops_at=lambda w, d, h: d.valid_from_ms - 50_000,
        others_at=lambda w, d, h: d.valid_from_ms - 55_000), "key_not_yet_valid"),
    "key_revoked": (_honest, "key_revoked"),
}
"""How the signature is dated or told, and the code the op path refuses its freeze with."""


def _stamped(authored: list[tuple[str, Any]], first_seq: int, first_ms: int,
             ) -> list[tuple[int, str, Any, int]]:
    return [(first_seq + place, path, value, pack(first_ms + place, 0))
            for place, (path, value) in enumerate(authored)]


def _signature(world: _Registries, device: _Device, doc: str, state_ops: list[Op],
               dating: _Dating) -> dict[str, Any]:
    """The freeze of ``state_ops``, signed by ``device``'s key as ``dating`` says, with the
    one-time code of its signing time and a seal made for it."""
    state = replay(doc, state_ops)
    protocol = state.materialize(METROLOGY)
    freeze = Freeze(dict(state.vector), content_hash(protocol))
    statement = SigningStatement(
        protocol_id=doc, content_hash=freeze.content_hash, vector=freeze.vector,
        signer=INSPECTOR, device_id=device.id, kid=device.kid, signed_at_ms=dating.signed_at,
        confirmation=TotpConfirmation(world.totp.at(dating.signed_at // 1000)),
        registry_time=dating.told)
    seal = make_seal(claim_for(protocol, METROLOGY, dating.signed_at),
                     lambda data: _der(device.key, data), bytes.fromhex(device.kid),
                     world.whole.config.public_url)
    signed = SignedProtocol(statement, sign_canonical(device.key, statement), seal)
    return msgspec.to_builtins(Freeze(freeze.vector, freeze.content_hash, signed))


def _der(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _push(registry: InProcessRegistry, device: _Device, now: int, ops: list[Op],
          protocols: list[WholeProtocol] = ()) -> Answers:  # type: ignore[assignment]
    return ingest(registry.database, registry.catalog, Caller(device.id, INSPECTOR), ops, now,
                  AHEAD_MS, registry.transport.signing, protocols)


def _as_ops(device: _Device, item: WholeProtocol) -> list[Op]:
    return [Op(device.id, seq, item.doc, path, msgspec.msgpack.decode(value), hlc)
            for seq, path, value, hlc in item.ops]


@pytest.mark.parametrize("fault", FAULTS)
@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_protocol_signed_and_pushed_whole_is_checked_as_its_ops_are(
        registries: _Registries, fault: str, data: st.DataObject) -> None:
    world = registries
    world.now_ms += _STEP_MS
    now = world.now_ms
    device = world.revoked if fault == "key_revoked" else world.signer
    dating_of, code = FAULTS[fault]
    dating = dating_of(world, device, now)
    block = next(_BLOCKS) * 10_000
    others = [whole_protocol(str(uuid.uuid4()), _stamped(
        data.draw(filled_protocols(ASSIGNMENT, max_edits=0)), block + 1_000 * number,
        dating.others_at + 100 * number)) for number in range(data.draw(st.integers(1, 2)))]
    doc = str(uuid.uuid4())
    authored = _stamped(data.draw(filled_protocols(ASSIGNMENT, max_edits=0)), block + 5_000,
                        dating.ops_at)
    state_ops = [Op(device.id, seq, doc, path, value, hlc) for seq, path, value, hlc in authored]
    freeze = (authored[-1][0] + 1, "_freeze", _signature(world, device, doc, state_ops, dating),
              pack(dating.ops_at + len(authored), 0))
    protocols = [*others, whole_protocol(doc, [*authored, freeze])]

    pushed_whole = _push(world.whole, device, now, [], protocols)
    pushed_as_ops = _push(world.one_by_one, device, now,
                          [op for item in protocols for op in _as_ops(device, item)])
    assert ordered(pushed_whole, protocols, []) == pushed_as_ops.results
    assert held_rows(world.whole, _TABLES) == held_rows(world.one_by_one, _TABLES)
    refused = pushed_as_ops.results[-1]
    assert (refused.code if refused.status == "rejected" else "") == code, refused
