"""The trust list: every device key the registry has known, signed by the registry key.

Verifiers cache it and check seals offline. Retired keys stay in it (their old signatures stay
valid); revoked keys stay with the time after which their signatures are not trusted.
"""

from __future__ import annotations

import msgspec
from sqlmodel import Session, col, select

from field_sync.canonical import content_hash
from field_sync.keys import public_key_pem
from field_sync.signing import sign_canonical
from schemas.signing import TrustedKey, TrustList
from server.keys import RegistryKeys
from server.tables import DeviceKeyRow

__all__ = ["entity_tag", "sign", "trust_list", "trusted_keys"]


def trusted_keys(session: Session, keys: RegistryKeys, now_ms: int) -> TrustList:
    """Every device key, unsigned: what the registry checks seals against itself."""
    rows = session.exec(select(DeviceKeyRow).order_by(col(DeviceKeyRow.kid)))
    return TrustList(
        issued_at_ms=now_ms,
        registry_key=public_key_pem(keys.signing),
        keys=[TrustedKey(kid=row.kid, public_key=row.public_key, inspector_id=row.inspector_id,
                         device_id=row.device_id, valid_from_ms=row.valid_from_ms,
                         retired_at_ms=row.retired_at_ms, revoked_after_ms=row.revoked_after_ms)
              for row in rows],
    )


def trust_list(session: Session, keys: RegistryKeys, now_ms: int) -> TrustList:
    """The current trust list, signed, for devices and verifiers to cache."""
    return sign(trusted_keys(session, keys, now_ms), keys)


def sign(unsigned: TrustList, keys: RegistryKeys) -> TrustList:
    """``unsigned`` with the registry key's signature."""
    return msgspec.structs.replace(unsigned, signature=sign_canonical(keys.signing, unsigned))


def entity_tag(unsigned: TrustList) -> str:
    """An HTTP entity tag that changes exactly when the keys do (not with the issue time): a
    device that holds the list asks with it and is told ``304 Not Modified``."""
    return f'"{content_hash([unsigned.registry_key, unsigned.keys])}"'
