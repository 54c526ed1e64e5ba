"""The registry key rotated as a key ceremony: ``field-sync admin rotate-registry-key`` hands the
registry over to a new key; tablets, offline verifiers and ``audit verify`` pinned to the old
key follow the signed hand-over, and nothing signed before stops verifying."""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from client_lib import Tablet
from client_lib.anchors import kept_trust_list, pinned_key
from field_sync.key_handover import signed_form
from field_sync.keys import public_key_pem
from field_sync.registry_pin import RegistryPin
from field_sync.signing import sign_canonical
from field_sync.verify import verify_offline
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from field_sync_cli.main import main
from schemas.signing import AuditCheckpoint, KeyHandover, RegistryKey, TrustList
from server.authority.key_ring import KeyRing, KeyRingError
from server.authority.keys import RegistryKeys
from tests.databases import dispose_database, fresh_database
from tests.live import complete_protocol, fresh_code, team

T = TypeVar("T")
JSON = {"Accept": "application/json"}


@dataclass(frozen=True)
class Said:
    """What a command said, and its exit status."""

    code: int
    out: str
    err: str


def field_sync(*arguments: str) -> Said:
    """``field-sync`` run in this process, as the command line ends."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(arguments))
    return Said(code, out.getvalue(), err.getvalue())


def _get(server: LocalServer, path: str, kind: type[T]) -> T:
    answer = httpx.get(f"{server.url}{path}", headers=JSON, timeout=30)
    assert answer.status_code == 200, answer.text
    return msgspec.json.decode(answer.content, type=kind)


def _sealed(tablet: Tablet, assignment: str, number: str) -> str:
    """The seal of a protocol signed on ``tablet`` and registered."""
    protocol = complete_protocol(tablet, assignment, number)
    with tablet.edit(protocol) as edit:
        edit.set("conclusion", "compliant")
    freeze = tablet.sign(protocol, fresh_code(tablet))
    assert tablet.sync().ok and tablet.status(protocol)[0] == "registered"
    assert freeze.signed is not None
    return freeze.signed.seal


@dataclass(frozen=True)
class Rotated:
    """A registry whose key was rotated between two seals, restarted after; and a tablet
    enrolled before."""

    folder: Path
    db_url: str
    tablet: Tablet
    old: RegistryKey
    new: RegistryKey
    old_list: TrustList
    new_list: TrustList
    old_checkpoint: AuditCheckpoint
    new_checkpoint: AuditCheckpoint
    early_seal: str
    """Signed before the rotation."""
    late_seal: str
    """Signed after it, by a device key the registry learned after it."""
    rotation: Said
    unrestarted: Said
    """``audit verify`` once the key was rotated, before the registry signed anything new."""
    audit_log: list[dict[str, Any]]

    @property
    def data_dir(self) -> Path:
        return self.folder / "registry"

    def kept(self, name: str, document: msgspec.Struct) -> str:
        path = self.folder / name
        path.write_bytes(msgspec.json.encode(document))
        return str(path)


@pytest.fixture(autouse=True)
def no_pin_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FIELD_SYNC_REGISTRY_KEY_PIN", "FIELD_SYNC_REGISTRY_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rotated]:
    folder = tmp_path_factory.mktemp("rotated")
    data_dir, token = folder / "registry", secrets.token_urlsafe(16)
    url = fresh_database(data_dir)
    os.environ["FIELD_SYNC_AUDIT_CHECKPOINT_INTERVAL_MS"] = "0"  # a checkpoint of the head
    opened: list[Tablet] = []
    server = LocalServer(data_dir, token, db_url=url).start()
    try:
        admin = AdminClient(server.url, token)
        assignment, (tablet,) = team(admin, server, folder, 1, opened)
        admin.close()
        early = _sealed(tablet, assignment, "TR-BEFORE-ROTATION")
        old, old_list = _get(server, "/v1/registry-key", RegistryKey), \
            _get(server, "/v1/trust-list", TrustList)
        old_checkpoint = _get(server, "/v1/audit/checkpoint", AuditCheckpoint)
        server.stop()
        rotation = field_sync("admin", "rotate-registry-key", "--data-dir", str(data_dir))
        unrestarted = field_sync("audit", "verify", "--data-dir", str(data_dir), "--db", url)
        server = LocalServer(data_dir, token, db_url=url, port=server.port).start()
        tablet.rotate_key()  # a device key only the new trust list holds
        late = _sealed(tablet, assignment, "TR-AFTER-ROTATION")
        assert tablet.sync().ok
        new, new_list = _get(server, "/v1/registry-key", RegistryKey), \
            _get(server, "/v1/trust-list", TrustList)
        new_checkpoint = _get(server, "/v1/audit/checkpoint", AuditCheckpoint)
        log = httpx.get(f"{server.url}/v1/supervisor/audit", params={"limit": 1000},
                        headers={**JSON, "Authorization": f"Bearer {token}"}, timeout=30)
        yield Rotated(folder, url, tablet, old, new, old_list, new_list, old_checkpoint,
                      new_checkpoint, early, late, rotation, unrestarted, log.json())
    finally:
        server.stop()
        for opened_tablet in opened:
            opened_tablet.close()
        del os.environ["FIELD_SYNC_AUDIT_CHECKPOINT_INTERVAL_MS"]
        dispose_database(url)


def test_the_registry_hands_over_to_a_new_key_and_publishes_the_handover(
        rotated: Rotated) -> None:
    assert rotated.rotation.code == 0, rotated.rotation.err
    assert rotated.old.fingerprint in rotated.rotation.out
    assert rotated.new.fingerprint in rotated.rotation.out
    assert rotated.new.fingerprint != rotated.old.fingerprint and rotated.old.handovers == []
    (handover,) = rotated.new.handovers
    assert (handover.previous_key, handover.next_key) == (rotated.old.public_key,
                                                          rotated.new.public_key)
    assert rotated.new_list.registry_key == rotated.new_checkpoint.registry_key == \
        rotated.new.public_key
    assert rotated.new_list.handovers == rotated.new.handovers
    # the audit log says when, recorded as the registry started on the new key
    (entry,) = [entry for entry in rotated.audit_log
                if entry["action"] == "registry_key_handed_over"]
    assert (entry["actor"], entry["subject"]) == ("registry", rotated.new.fingerprint)
    assert msgspec.json.decode(entry["detail"]) == {"previous_key": rotated.old.fingerprint,
                                                    "at_ms": handover.at_ms}
    # the outgoing key is kept, never deleted
    kept = RegistryKeys.load(rotated.data_dir,
                             KeyRing(rotated.data_dir / "registry-key.pem").kept_path(
                                 rotated.old.fingerprint))
    assert kept.public_pem == rotated.old.public_key


def test_a_tablet_enrolled_before_follows_the_handover_on_its_next_sync(
        rotated: Rotated) -> None:
    """It pins the new key, keeps the new list and checkpoint, and verifies offline a seal of
    a device key only the new list holds, and one made before the rotation."""
    store = rotated.tablet.store
    pin = pinned_key(store)
    assert pin is not None and pin.fingerprint == rotated.new.fingerprint
    kept = kept_trust_list(store)
    assert kept is not None and kept.registry_key == rotated.new.public_key
    checkpoint = rotated.tablet.audit_checkpoint()
    assert checkpoint is not None and checkpoint.registry_key == rotated.new.public_key
    assert rotated.tablet.verify(rotated.late_seal).verdict == "genuine"
    assert rotated.tablet.verify(rotated.early_seal).verdict == "genuine"


def test_a_verifier_pinned_to_the_old_key_takes_the_new_list_through_the_handover(
        rotated: Rotated) -> None:
    old_pin = RegistryPin(rotated.old.fingerprint)
    for seal in (rotated.early_seal, rotated.late_seal):
        assert verify_offline(seal, rotated.new_list, old_pin).verdict == "genuine"
    said = field_sync("verify", rotated.late_seal, "--trust-list",
                      rotated.kept("new-list.json", rotated.new_list),
                      "--registry-key", rotated.old.fingerprint)
    assert said.code == 0 and said.out.startswith("verdict: GENUINE"), said
    # without the hand-over it carries, the new list is not the old key's
    stripped = msgspec.structs.replace(rotated.new_list, handovers=[])
    assert verify_offline(rotated.late_seal, stripped, old_pin).verdict == "untrusted"
    # a verifier pinned to the new key never needed the hand-over
    assert verify_offline(rotated.late_seal, stripped,
                          RegistryPin(rotated.new.fingerprint)).verdict == "genuine"


def _forged(previous_key: str, forger: ec.EllipticCurvePrivateKey) -> KeyHandover:
    """A hand-over from ``previous_key`` to the forger's key, signed by the forger."""
    unsigned = KeyHandover(previous_key=previous_key, next_key=public_key_pem(forger),
                           at_ms=1)
    return msgspec.structs.replace(unsigned,
                                   signature=sign_canonical(forger, signed_form(unsigned)))


def test_a_forged_handover_leaves_the_list_untrusted(rotated: Rotated) -> None:
    forger = ec.generate_private_key(ec.SECP256R1())
    old_pin = RegistryPin(rotated.old.fingerprint)
    for chain in ([_forged(rotated.old.public_key, forger)],  # in place of the agency's
                  [*rotated.new.handovers, _forged(rotated.new.public_key, forger)]):  # after
        unsigned = msgspec.structs.replace(rotated.new_list, registry_key=public_key_pem(forger),
                                           handovers=chain, signature="")
        forged = msgspec.structs.replace(
            unsigned, signature=sign_canonical(forger, signed_form(unsigned)))
        assert verify_offline(rotated.late_seal, forged, old_pin).verdict == "untrusted"
    said = field_sync("verify", rotated.late_seal, "--trust-list",
                      rotated.kept("forged-list.json", forged),
                      "--registry-key", rotated.old.fingerprint)
    assert said.code == 1 and said.out.startswith("verdict: UNTRUSTED"), said


def test_checkpoints_before_and_after_the_rotation_verify(rotated: Rotated) -> None:
    """Each under the key that signed it, or under an earlier pin through the hand-overs kept
    beside the key file; by default under any key the registry has had."""
    assert rotated.unrestarted.code == 0, rotated.unrestarted
    old_file = rotated.kept("old-checkpoint.json", rotated.old_checkpoint)
    new_file = rotated.kept("new-checkpoint.json", rotated.new_checkpoint)
    assert rotated.new_checkpoint.seq > rotated.old_checkpoint.seq
    base = ("audit", "verify", "--data-dir", str(rotated.data_dir), "--db", rotated.db_url)
    for checkpoint, pin in ((old_file, rotated.old.fingerprint),
                            (new_file, rotated.old.fingerprint),
                            (new_file, rotated.new.fingerprint), (old_file, None),
                            (new_file, None)):
        said = field_sync(*base, "--checkpoint", checkpoint,
                          *(("--registry-key", pin) if pin else ()))
        assert said.code == 0 and said.out.startswith("audit log intact"), (checkpoint, pin,
                                                                          said)
    # a later key does not vouch for what an earlier one signed
    said = field_sync(*base, "--checkpoint", old_file, "--registry-key", rotated.new.fingerprint)
    assert said.code == 1 and "not signed by the registry key" in said.out, said


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()} if folder.exists() \
        else {}


@pytest.mark.database_free
def test_a_rotation_it_cannot_make_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    rotate = ("admin", "rotate-registry-key", "--data-dir")
    nothing = tmp_path / "nothing"
    said = field_sync(*rotate, str(nothing))
    assert (said.code, said.out) == (3, "") and said.err.count("\n") == 1, said
    assert said.err.startswith("field-sync: no registry key at ") and not nothing.exists()

    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "registry-key.pem").write_text("not a key\n")
    said = field_sync(*rotate, str(junk))
    assert (said.code, said.out) == (1, "") and said.err.count("\n") == 1, said
    assert said.err.startswith("field-sync: the registry key was not rotated: ")
    assert _files(junk) == {"registry-key.pem": b"not a key\n"}

    # hand-overs that lead to another key than the one in use
    other, mixed = tmp_path / "other", tmp_path / "mixed"
    RegistryKeys.load(other)
    KeyRing(other / "registry-key.pem").rotate(1)
    RegistryKeys.load(mixed)
    (mixed / "registry-key-handovers.json").write_bytes(
        (other / "registry-key-handovers.json").read_bytes())
    before = _files(mixed)
    said = field_sync(*rotate, str(mixed))
    assert said.code == 1 and "is not the key the last hand-over" in said.err, said
    assert _files(mixed) == before
    with pytest.raises(KeyRingError, match="is not the key the last hand-over"):
        RegistryKeys.load(mixed)  # nor does the registry start on them

    said = field_sync(*rotate, str(other), "--no-such-flag")
    assert said.code == 2 and said.err.count("\n") == 1, said


@pytest.mark.database_free
def test_a_rotation_cut_off_before_the_new_key_is_in_use_is_finished_by_running_it_again(
        tmp_path: Path) -> None:
    first = RegistryKeys.load(tmp_path)
    ring = KeyRing(tmp_path / "registry-key.pem")
    handover = ring.rotate(1)
    # as if cut off after the hand-over was written, before the new key was put in use
    ring.path.write_bytes(ring.kept_path(first.fingerprint).read_bytes())
    with pytest.raises(KeyRingError, match="a rotation was cut off"):
        RegistryKeys.load(tmp_path)
    said = field_sync("admin", "rotate-registry-key", "--data-dir", str(tmp_path))
    assert said.code == 0, said
    finished = RegistryKeys.load(tmp_path)
    assert finished.handovers == (handover,) and finished.public_pem == handover.next_key
    assert finished.first_public_pem == first.public_pem


@pytest.mark.database_free
def test_the_console_secrets_outlive_a_rotation(tmp_path: Path) -> None:
    """A console form open while the registry restarts on its new key is still accepted."""
    before = RegistryKeys.load(tmp_path)
    KeyRing(tmp_path / "registry-key.pem").rotate(1)
    after = RegistryKeys.load(tmp_path)
    assert after.fingerprint != before.fingerprint
    assert after.derived_secret("console csrf") == before.derived_secret("console csrf")
    assert after.time_mac == before.time_mac
