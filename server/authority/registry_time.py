"""The registry's time as it tells a device: a token the tablet signs with.

Every enrollment, push and pull answer carries the registry's clock for the device that asked,
with the registry's MAC over both (``schemas.signing.RegistryTime``). The tablet keeps the
latest it was told and puts it in what it signs; the registry takes only a token it made, for
that device, and refuses a signature dated before it. So a tablet whose clock is set back
cannot date a signature before its last contact with the registry.
"""

from __future__ import annotations

import hmac

import msgspec

from field_sync.signing import b64url
from schemas.signing import RegistryTime
from server.authority.keys import RegistryKeys

__all__ = ["is_told", "tell"]


_told = msgspec.msgpack.Encoder().encode


def _mac(keys: RegistryKeys, device_id: str, at_ms: int) -> str:
    return b64url(hmac.digest(keys.time_mac, _told((device_id, at_ms)), "sha256")[:16])


def tell(keys: RegistryKeys, device_id: str, at_ms: int) -> RegistryTime:
    """The token of registry time ``at_ms`` for ``device_id``."""
    return RegistryTime(device_id=device_id, at_ms=at_ms, mac=_mac(keys, device_id, at_ms))


def is_told(keys: RegistryKeys, told: RegistryTime, device_id: str) -> bool:
    """Whether ``told`` is a token this registry made for ``device_id``."""
    return told.device_id == device_id and hmac.compare_digest(
        told.mac, _mac(keys, told.device_id, told.at_ms))
