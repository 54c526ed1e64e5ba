"""The registry key a command trusts: ``--registry-key`` or ``$FIELD_SYNC_REGISTRY_KEY_PIN``, each
the path of a PEM file holding the registry's public key (or, on the registry's own machine,
its private key file), or the key's fingerprint (``GET /v1/registry-key`` gives both)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from field_sync.registry_pin import InvalidPin, RegistryPin

__all__ = ["PIN_VARIABLE", "PinUnreadable", "configured_pin"]

PIN_VARIABLE = "FIELD_SYNC_REGISTRY_KEY_PIN"


class PinUnreadable(Exception):
    """The pin names a file that cannot be read, or holds no registry key, or is neither a file
    nor a fingerprint."""


def _public_pem(text: str) -> str:
    """``text``, or the public half of the private key in it."""
    if "PRIVATE KEY-----" not in text:
        return text
    try:
        public = serialization.load_pem_private_key(text.encode(), None).public_key()
    except (ValueError, TypeError) as exc:
        raise InvalidPin(f"not a readable private key: {exc}") from exc
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def configured_pin(option: str | None) -> RegistryPin | None:
    """The pin ``option`` gives, else ``$FIELD_SYNC_REGISTRY_KEY_PIN``, else None."""
    value = (option or os.environ.get(PIN_VARIABLE, "")).strip()
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        try:
            return RegistryPin.parse(value)
        except InvalidPin:
            raise PinUnreadable(f"no such file, and not a key fingerprint: {value}") from None
    try:
        return RegistryPin.parse(_public_pem(path.read_text()))
    except (OSError, UnicodeError) as exc:
        raise PinUnreadable(f"cannot read the registry key {value}: {exc}") from exc
    except InvalidPin as exc:
        raise PinUnreadable(f"{value} holds no registry public key ({exc.reason}); "
                            "GET /v1/registry-key gives it") from exc
