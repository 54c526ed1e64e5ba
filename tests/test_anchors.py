"""What a tablet keeps of its registry's trust list: never an older one than it holds, even
signed by the pinned key (replayed, it could be from before a device key was revoked)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from client_lib.anchors import REGISTRY_KEY, kept_trust_list, refresh_anchors
from client_lib.errors import RegistryRefused
from client_lib.store import DeviceStore
from field_sync.key_handover import signed_form
from field_sync.keys import public_key_pem
from field_sync.signing import sign_canonical
from schemas.signing import AuditCheckpoint, TrustedKey, TrustList

pytestmark = pytest.mark.database_free

REGISTRY = ec.generate_private_key(ec.SECP256R1())
DEVICE = public_key_pem(ec.generate_private_key(ec.SECP256R1()))


def _list(issued_at_ms: int, revoked_after_ms: int) -> TrustList:
    unsigned = TrustList(issued_at_ms=issued_at_ms, registry_key=public_key_pem(REGISTRY),
                         keys=[TrustedKey("k1", DEVICE, "insp", "dev", 1,
                                          revoked_after_ms=revoked_after_ms)],
                         public_url="https://registry.example")
    return msgspec.structs.replace(unsigned,
                                   signature=sign_canonical(REGISTRY, signed_form(unsigned)))


class _Registry:
    """Whoever answers for the registry: here, with the list it is given."""

    def __init__(self, trust_list: TrustList) -> None:
        self.list = trust_list

    def trust_list(self) -> TrustList:
        return self.list

    def audit_checkpoint(self) -> AuditCheckpoint:
        raise RegistryRefused(404, {"code": "not_found"})


def test_an_older_trust_list_replayed_is_not_kept(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path / "tablet.db")
    with store.transaction() as db:
        DeviceStore.put(db, REGISTRY_KEY, public_key_pem(REGISTRY))
    before, after = _list(1_000, 0), _list(2_000, 1_500)  # the device key revoked at 1.5 s
    refresh_anchors(store, _Registry(after))  # type: ignore[arg-type]
    refresh_anchors(store, _Registry(before))  # type: ignore[arg-type]
    kept = kept_trust_list(store)
    assert kept is not None
    assert (kept.issued_at_ms, kept.keys[0].revoked_after_ms) == (2_000, 1_500)
    newer = _list(3_000, 1_500)
    refresh_anchors(store, _Registry(newer))  # type: ignore[arg-type]
    assert kept_trust_list(store) == newer
