"""Signing in to the console: a password (argon2), then a one-time code (TOTP, as the tablets'
inspectors use), each checked against the account; and taking up an invitation.

Failures count per account, password and code alike; by default the fifth locks the account
for a quarter of an hour (``ServerConfig.console_max_failures``, ``console_lockout_s``). A name
nobody holds fails the same way, in the same time (the password is checked against a dummy
hash), so names cannot be probed. A code is taken once. Every sign-in, failure and lockout is in
the audit log, with the client's address (``server.api.client_address``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from field_sync.confirmation import TOTP_STEP_S, matching_totp_step
from server.api.auth import hash_secret
from server.api.problems import BadRequest, Unauthorized
from server.authority.audit import append as audit
from server.authority.keys import RegistryKeys
from server.config import ServerConfig
from server.data.clock import now_ms
from server.data.database import Database
from server.data.tables import AccountRow
from server.services.accounts import Account, view

__all__ = ["Lockout", "SignInRefused", "accept_invitation",
           "check_code", "check_new_password", "check_password", "invitation",
           "new_totp_secret", "sign_out", "totp_uri"]



@dataclass(frozen=True)
class Lockout:
    """When failures lock an account, and for how long (``ServerConfig.console_max_failures``,
    ``console_lockout_s``)."""

    after: int = ServerConfig.console_max_failures
    """Failures in a row that lock an account."""
    seconds: int = ServerConfig.console_lockout_s
    """How long a lockout lasts."""

    @staticmethod
    def of(config: ServerConfig) -> Lockout:
        """The lockout ``config`` sets."""
        return Lockout(config.console_max_failures, config.console_lockout_s)

    def refused(self) -> SignInRefused:
        """The one refusal of every failed sign-in, whatever its reason."""
        return SignInRefused("sign_in_failed", "the name, the password or the code is wrong, "
                             f"or the account is locked for {self.seconds // 60} minutes after "
                             f"{self.after} failures")

MIN_PASSWORD = 12
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("a password nobody holds")


class SignInRefused(Unauthorized):
    """A sign-in that does not go through (``sign_in_failed``), or an invitation that is not
    good (``bad_invitation``)."""


def _fail(database: Database, account_id: str, step: str, address: str,
          lockout: Lockout) -> None:
    """Count a failure against the account (if there is one), lock it at the fifth, and audit
    it with the address it came from."""
    now = now_ms()
    with database.write() as session:
        row = session.get(AccountRow, account_id)
        detail: dict[str, object] = {"step": step, "address": address}
        changed = Database.next_change(session)
        if row is not None:
            row.failures += 1
            if row.failures >= lockout.after:
                row.failures, row.locked_until_ms = 0, now + lockout.seconds * 1000
                detail["locked_until_ms"] = row.locked_until_ms
            session.add(row)
        audit(session, now, f"account:{account_id[:64]}", "sign_in_failed", account_id[:64],
              detail, changed)
        if "locked_until_ms" in detail:
            audit(session, now, "registry", "account_locked", account_id, detail, changed)


def _usable(row: AccountRow | None) -> AccountRow | None:
    if row is None or row.disabled_at is not None or not row.password_hash or \
            row.totp_secret is None:
        return None
    return row


def check_password(database: Database, account_id: str, password: str,
                   address: str = "", lockout: Lockout = Lockout()) -> Account:
    """The account, if ``password`` is its password and it may sign in; ``SignInRefused``
    (one answer for every reason, so that names and lockouts cannot be probed) otherwise. The
    second step (``check_code``) follows. ``address``: the client's, for the audit log."""
    now = now_ms()
    with database.read() as session:
        row = _usable(session.get(AccountRow, account_id))
    locked = row is not None and row.locked_until_ms > now
    try:
        # Outside any transaction: argon2 takes a good part of a second by design, and takes
        # it for a name nobody holds or a locked account too.
        _hasher.verify(_DUMMY if row is None or locked else row.password_hash, password)
        if row is None or locked:
            raise VerificationError
    except (VerificationError, InvalidHashError):
        if not locked:
            _fail(database, account_id, "password", address, lockout)
        raise lockout.refused() from None
    if _hasher.check_needs_rehash(row.password_hash):
        with database.write() as session:
            fresh = session.get(AccountRow, account_id)
            assert fresh is not None
            fresh.password_hash = _hasher.hash(password)
            session.add(fresh)
    return view(row)


def check_code(database: Database, keys: RegistryKeys, account_id: str, code: str,
               address: str = "", lockout: Lockout = Lockout()) -> Account:
    """The account, signed in, if ``code`` is its one-time code now and not used before.
    ``address``: the client's, for the audit log."""
    now = now_ms()
    with database.read() as session:
        row = _usable(session.get(AccountRow, account_id))
    if row is None or row.locked_until_ms > now:
        raise lockout.refused()
    assert row.totp_secret is not None
    secret = keys.secrets.decrypt(row.totp_secret).decode()
    step = matching_totp_step(secret, code.strip().replace(" ", ""), now)
    if step is None or step <= row.last_totp_step:
        _fail(database, account_id, "code", address, lockout)
        raise lockout.refused()
    with database.write() as session:
        fresh = session.get(AccountRow, account_id)
        assert fresh is not None
        if step <= fresh.last_totp_step:  # the same code, twice at once
            raise lockout.refused()
        fresh.last_totp_step, fresh.failures = step, 0
        session.add(fresh)
        audit(session, now, f"account:{account_id}", "signed_in", account_id,
              {"address": address}, Database.next_change(session))
        return view(fresh)


def new_totp_secret() -> str:
    """A fresh secret for an account's one-time-code app."""
    return pyotp.random_base32()


def totp_uri(secret: str, account_id: str, issuer: str) -> str:
    """The otpauth URI an authenticator app scans."""
    return pyotp.TOTP(secret, interval=TOTP_STEP_S).provisioning_uri(
        name=account_id, issuer_name=issuer)


def _invited(session: Session, code: str, now: int) -> AccountRow | None:
    row = session.exec(select(AccountRow).where(
        col(AccountRow.invitation_hash) == hash_secret(code))).first() if code else None
    return row if row is not None and row.invitation_expires_ms > now else None


def invitation(database: Database, code: str) -> Account | None:
    """The account an invitation code is for, while the code is good."""
    with database.read() as session:
        row = _invited(session, code, now_ms())
        return None if row is None else view(row)


def check_new_password(account: Account, password: str, repeated: str) -> None:
    """A password an account may take: long enough, typed the same twice, not its name."""
    if password != repeated:
        raise BadRequest("passwords_differ", "the two passwords differ", field="password")
    if len(password) < MIN_PASSWORD or len(password) > 256:
        raise BadRequest("weak_password", f"a password is {MIN_PASSWORD} to 256 characters",
                         field="password")
    if password.casefold() in (account.id.casefold(), account.full_name.casefold()):
        raise BadRequest("weak_password", "a password is not the account's name",
                         field="password")


def accept_invitation(database: Database, keys: RegistryKeys, code: str, password: str,
                      repeated: str, secret: str, totp_code: str) -> Account:
    """Take up an invitation: set the password and the one-time-code app ``secret`` (proved by
    a code from it). The invitation is spent."""
    now = now_ms()
    found = invitation(database, code)
    if found is None:
        raise SignInRefused("bad_invitation", "this invitation is not known, used or expired")
    check_new_password(found, password, repeated)
    step = matching_totp_step(secret, totp_code.strip().replace(" ", ""), now)
    if step is None:
        raise BadRequest("bad_code", "the one-time code does not match the app's secret",
                         field="code")
    password_hash = _hasher.hash(password)
    with database.write() as session:
        row = _invited(session, code, now)
        if row is None:  # taken up meanwhile
            raise SignInRefused("bad_invitation", "this invitation is not known, used or "
                                "expired")
        row.password_hash, row.totp_secret = password_hash, keys.secrets.encrypt(secret.encode())
        row.last_totp_step, row.invitation_hash, row.invitation_expires_ms = step, "", 0
        session.add(row)
        audit(session, now, f"account:{row.id}", "account_activated", row.id, {},
              Database.next_change(session))
        return view(row)


def sign_out(database: Database, account_id: str) -> None:
    """Note in the audit log that an account signed out."""
    with database.write() as session:
        audit(session, now_ms(), f"account:{account_id}", "signed_out", account_id, {},
              Database.next_change(session))
