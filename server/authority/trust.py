"""The trust list: every device key the registry has known, and the registry's public
address, signed by the registry key, with the key's hand-overs from the registry's first key.

Verifiers cache it and check seals offline, against the registry key they pinned; a seal
whose URL names another address than the list's is not genuine. Retired keys stay in it
(their old signatures stay valid); revoked keys stay with the time after which their
signatures are not trusted.
"""

from __future__ import annotations

import msgspec
from sqlmodel import Session, col, select

from field_sync.canonical import content_hash
from field_sync.key_handover import signed_form
from field_sync.signing import sign_canonical
from schemas.signing import TrustedKey, TrustList
from server.authority.credentials import ListedKeys
from server.authority.keys import RegistryKeys
from server.data.clock import now_ms
from server.data.database import Database
from server.data.tables import DeviceKeyRow

__all__ = ["current_list", "entity_tag", "sign", "trust_list", "trusted_keys"]


def trusted_keys(session: Session, keys: RegistryKeys, now_ms: int,
                 public_url: str) -> TrustList:
    """Every device key and the registry's address, unsigned: what the registry checks seals
    against itself."""
    rows = session.exec(select(DeviceKeyRow).order_by(col(DeviceKeyRow.kid)))
    return TrustList(
        issued_at_ms=now_ms,
        registry_key=keys.public_pem,
        public_url=public_url,
        handovers=list(keys.handovers),
        keys=[TrustedKey(kid=row.kid, public_key=row.public_key, inspector_id=row.inspector_id,
                         device_id=row.device_id, valid_from_ms=row.valid_from_ms,
                         retired_at_ms=row.retired_at_ms, revoked_after_ms=row.revoked_after_ms)
              for row in rows],
    )


def trust_list(session: Session, keys: RegistryKeys, now_ms: int, public_url: str) -> TrustList:
    """The current trust list, signed, for devices and verifiers to cache."""
    return sign(trusted_keys(session, keys, now_ms, public_url), keys)


def current_list(database: Database, keys: RegistryKeys, public_url: str) -> ListedKeys:
    """The trust list for ``public_url`` as this process keeps it: built and signed once after
    the keys change (``server.authority.credentials``), so its ``issued_at_ms`` is when it was
    built."""
    def build(url: str) -> ListedKeys:
        with database.read() as session:
            unsigned = trusted_keys(session, keys, now_ms(), url)
        return ListedKeys(unsigned, sign(unsigned, keys), entity_tag(unsigned))

    return database.credentials.trust_list(public_url, build)


def sign(unsigned: TrustList, keys: RegistryKeys) -> TrustList:
    """``unsigned`` with the registry key's signature."""
    return msgspec.structs.replace(unsigned,
                                   signature=sign_canonical(keys.signing, signed_form(unsigned)))


def entity_tag(unsigned: TrustList) -> str:
    """An HTTP entity tag that changes exactly when the keys or the address do (not with the
    issue time): a device that holds the list asks with it and is told ``304 Not Modified``."""
    return f'"{content_hash([unsigned.registry_key, unsigned.public_url, unsigned.keys])}"'
