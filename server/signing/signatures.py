"""Registering a signed protocol: the signature, its key, its time, its seal and its
confirmation are checked, then the registry countersigns a receipt."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import msgspec
from sqlmodel import Session, col, select

from field_sync.confirmation import ConfirmationFailed
from field_sync.freeze import Freeze
from field_sync.hlc import physical_ms
from field_sync.keys import load_public_key
from field_sync.rules import Breach, check_rules
from field_sync.seal import SealError, claim_for, read_seal, seal_hash
from field_sync.signing import sign_canonical, verify_canonical
from field_sync.signing_time import (
    EARLIER_OP,
    KEY,
    LOCATION,
    REGISTRY_TIME,
    SIGNED_OP,
    SigningTimeRefused,
    check_signing_time,
)
from schemas import Protocol, Template
from schemas.signing import Receipt, SignedProtocol
from server.api.auth import Caller
from server.authority.keys import RegistryKeys
from server.authority.registry_time import is_told
from server.config import ServerConfig
from server.data.tables import DeviceKeyRow, ReceiptRow
from server.signing.confirmations import check_confirmation
from server.signing.rule_context import rule_context

__all__ = ["AwaitingEvidence", "Before", "SignatureRefused", "Signing", "issue_receipt",
           "register"]


class SignatureRefused(Exception):
    """Why a signature is refused: a stable code and a sentence."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Signing:
    """What checking signatures needs: the registry's keys and policy."""

    keys: RegistryKeys
    config: ServerConfig


@dataclass(frozen=True)
class Before:
    """Stamps of what the registry holds that came before a signature."""

    earlier_ops: int
    """The latest stamp among the signing device's ops of lower seqs (0: none)."""
    signed_ops: int
    """The latest stamp among the ops the signature covers."""


@dataclass(frozen=True)
class AwaitingEvidence:
    """A signature that holds, for a protocol whose evidence files have not all arrived: it is
    registered when the last one does (``server.blobs.evidence``)."""

    files: tuple[str, ...]
    """The SHA-256 of each file missing."""


def _device_key(session: Session, caller: Caller, signed: SignedProtocol) -> DeviceKeyRow:
    statement = signed.statement
    if statement.device_id != caller.device_id or statement.signer != caller.inspector_id:
        raise SignatureRefused("not_signer", "a device signs only as its own inspector")
    key = session.get(DeviceKeyRow, statement.kid)
    if key is None or key.device_id != caller.device_id:
        raise SignatureRefused("unknown_key", "the signing key is not this device's")
    if key.revoked_after_ms and statement.signed_at_ms > key.revoked_after_ms:
        raise SignatureRefused("key_revoked", "the signing key was revoked before this time")
    if key.retired_at_ms and statement.signed_at_ms > key.retired_at_ms:
        raise SignatureRefused("key_retired", "the signing key was retired before this time")
    return key


def _check_time(signing: Signing, key: DeviceKeyRow, signed: SignedProtocol, before: Before,
                now_ms: int) -> None:
    """The signing time is no earlier than anything known to come before it, and no later
    than now by more than the clock bound (``field_sync.signing_time``)."""
    statement = signed.statement
    told = statement.registry_time
    if told is None:
        raise SignatureRefused("registry_time_missing", "the statement does not carry the "
                               "registry time the device was last told; update the tablet app")
    if not is_told(signing.keys, told, statement.device_id):
        raise SignatureRefused("registry_time_invalid", "the registry time in the statement is "
                               "not one this registry told this device")
    floors = [(KEY, key.valid_from_ms), (REGISTRY_TIME, told.at_ms),
              (EARLIER_OP, physical_ms(before.earlier_ops)),
              (SIGNED_OP, physical_ms(before.signed_ops))]
    if statement.location is not None:
        floors.append((LOCATION, statement.location.at_ms))
    try:
        check_signing_time(statement.signed_at_ms, floors,
                           now_ms + signing.config.max_clock_ahead_ms)
    except SigningTimeRefused as exc:
        raise SignatureRefused(exc.code, exc.reason) from exc


def _check_seal(signed: SignedProtocol, key: DeviceKeyRow, protocol: Protocol,
                template: Template) -> None:
    try:
        seal = read_seal(signed.seal)
    except SealError as exc:
        raise SignatureRefused("bad_seal", exc.reason) from exc
    if seal.kid.hex() != key.kid or not seal.verify(load_public_key(key.public_key)):
        raise SignatureRefused("bad_seal", "the seal is not signed by the signing key")
    if seal.claim != claim_for(protocol, template, signed.statement.signed_at_ms):
        raise SignatureRefused("seal_mismatch", "the seal's claim differs from the protocol")


def _registry_number(session: Session, now_ms: int) -> str:
    """``<year>-<n>``, counting from 1 each year. Ingest holds the change-number lock, so two
    registrations never draw the same number."""
    year = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).year
    # The year's highest number, one step down the unique index (not a count of the year's
    # receipts). Every number is zero-padded to the same width, so the range and the order
    # hold under any collation.
    number = col(ReceiptRow.registry_number)
    highest = session.exec(select(number).where(number.between(f"{year}-00000000",
                                                              f"{year}-99999999"))
                           .order_by(number.desc()).limit(1)).first()
    last = int(highest.rpartition("-")[2]) if highest else 0
    return f"{year}-{last + 1:08d}"


def register(session: Session, signing: Signing, caller: Caller, freeze: Freeze,
             protocol: Protocol, template: Template, before: Before, now_ms: int, changed: int,
             missing_files: Collection[str] = ()) -> Receipt | list[Breach] | AwaitingEvidence:
    """Check a signed freeze; ``SignatureRefused`` if the signature, its time, seal or
    confirmation does not hold (``before``: what the registry holds that came before it). Then
    the registry rules: the receipt when they hold, else the breaches (the protocol is
    quarantined, frozen as signed, without a receipt); ``AwaitingEvidence`` when they hold but
    some of its files (``missing_files``) have not arrived. A receipt is written for a protocol
    then marked registered only: a draft never has one, and a pull asks for the receipts of the
    protocols that are not drafts only (``server.sync.changes._send``)."""
    signed = freeze.signed
    if signed is None:
        raise SignatureRefused("unsigned", "a protocol is frozen only by its signature")
    if signed.statement.protocol_id != protocol.id:
        raise SignatureRefused("bad_signature", "the signature names another protocol")
    key = _device_key(session, caller, signed)
    if not verify_canonical(load_public_key(key.public_key), signed.statement, signed.signature):
        raise SignatureRefused("bad_signature", "the device signature does not verify")
    _check_time(signing, key, signed, before, now_ms)
    _check_seal(signed, key, protocol, template)
    try:
        check_confirmation(session, signing.keys, signing.config, signed.statement, now_ms,
                           changed)
    except ConfirmationFailed as exc:
        raise SignatureRefused(exc.code, exc.reason) from exc
    breaches = check_rules(rule_context(session, protocol, template, signed.statement,
                                        key.inspector_id))
    if breaches:
        return breaches
    if missing_files:
        return AwaitingEvidence(tuple(sorted(missing_files)))
    return issue_receipt(session, signing.keys, freeze, now_ms, changed)


def issue_receipt(session: Session, keys: RegistryKeys, freeze: Freeze, now_ms: int,
                  changed: int) -> Receipt:
    """The registry's countersigned receipt of a signed freeze, with the next registry number:
    what registering a protocol writes, at ingest, when its last evidence file arrives, or when
    a supervisor clears it from quarantine. The caller holds the change-number lock."""
    signed = freeze.signed
    assert signed is not None  # only a signed freeze is registered
    unsigned = Receipt(signed.statement.protocol_id, freeze.content_hash,
                       seal_hash(signed.seal), now_ms, _registry_number(session, now_ms), "")
    receipt = msgspec.structs.replace(unsigned, signature=sign_canonical(keys.signing, unsigned))
    session.add(ReceiptRow(
        protocol_id=receipt.protocol_id, registry_number=receipt.registry_number,
        content_hash=receipt.content_hash, seal_hash=receipt.seal_hash, seal=signed.seal,
        kid=signed.statement.kid, registered_at_ms=now_ms, signature=receipt.signature,
        changed=changed))
    return receipt
