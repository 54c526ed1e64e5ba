"""Console accounts, as administrators manage them: supervisors (who may be limited to regions)
and administrators. An account is made with an invitation, a one-time link by which its holder
sets a password and enrolls a one-time-code app; the same link made again resets both (a lost
phone). Disabling an account ends its sessions at their next request. Every change is audited.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import msgspec
from sqlmodel import Session, col, select

from schemas.bounds import Regions
from server.api.auth import hash_secret
from server.api.problems import BadRequest, Conflict, NotFound
from server.authority.audit import append as audit
from server.config import ServerConfig
from server.data.clock import now_ms, utcnow
from server.data.database import Database
from server.data.tables import AccountRow
from server.services.reach import Reach, format_regions, parse_regions

__all__ = ["ADMINISTRATOR", "ROLES", "SUPERVISOR", "Account", "Invitation",
           "account", "accounts", "create_account", "disable_account", "invite_again",
           "reach_of", "set_regions", "view"]

SUPERVISOR, ADMINISTRATOR = "supervisor", "administrator"
ROLES = (SUPERVISOR, ADMINISTRATOR)
_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


class Account(msgspec.Struct, frozen=True):
    """A console account as pages show it (no secrets)."""

    id: str
    full_name: str
    role: str
    regions: tuple[str, ...]
    """Empty: every region."""
    active: bool
    """The invitation was accepted: a password and a one-time-code app are set."""
    disabled: bool
    locked_until_ms: int
    invitation_expires_ms: int

    @property
    def reach(self) -> Reach:
        """The protocols this account reaches."""
        return reach_of(self)


class Invitation(msgspec.Struct, frozen=True):
    """The one-time code of an invitation link (shown once) and when it lapses."""

    account_id: str
    code: str
    expires_ms: int

    def link(self, public_url: str) -> str:
        """The link the invitee opens."""
        return f"{public_url.rstrip('/')}/console/invitation/{self.code}"


def reach_of(account: Account) -> Reach:
    """An account's reach: an administrator's is every region."""
    regions = None if account.role == ADMINISTRATOR else (frozenset(account.regions) or None)
    return Reach(f"account:{account.id}", regions)


def view(row: AccountRow) -> Account:
    """The page's view of an account row."""
    return Account(row.id, row.full_name, row.role, tuple(sorted(parse_regions(row.regions) or ())),
                   bool(row.password_hash and row.totp_secret), row.disabled_at is not None,
                   row.locked_until_ms, row.invitation_expires_ms if row.invitation_hash else 0)


def _invite(row: AccountRow, now: int, ttl_s: int) -> Invitation:
    """A fresh invitation on ``row``, good for ``ttl_s`` seconds: any password and
    one-time-code app it had are gone."""
    code = secrets.token_urlsafe(24)
    row.invitation_hash, row.invitation_expires_ms = hash_secret(code), now + ttl_s * 1000
    row.password_hash, row.totp_secret, row.last_totp_step = "", None, 0
    row.failures, row.locked_until_ms = 0, 0
    return Invitation(row.id, code, row.invitation_expires_ms)


def _regions(regions: Iterable[str]) -> str:
    """Regions as stored, each as the API takes a supervisor's (``schemas.bounds.Region``)."""
    try:
        return format_regions(msgspec.convert(list(regions), Regions))
    except msgspec.ValidationError as exc:
        raise BadRequest("invalid_region", f"a region is a name of up to 100 characters, "
                         f"without control characters: {exc}", field="regions") from None


def _check_new(account_id: str, full_name: str, role: str) -> None:
    if not account_id or len(account_id) > 64 or not set(account_id) <= _ID_CHARACTERS:
        raise BadRequest("invalid_account", "an account name is 1 to 64 of a-z, 0-9, '.', "
                         "'_' and '-'", field="id")
    if not full_name.strip() or len(full_name) > 200 or "\x00" in full_name:
        raise BadRequest("invalid_account", "an account needs a full name (up to 200 letters)",
                         field="full_name")
    if role not in ROLES:
        raise BadRequest("invalid_role", f"a role is one of {', '.join(ROLES)}", field="role")


def create_account(database: Database, actor: str, account_id: str, full_name: str, role: str,
                   regions: Iterable[str] = (), *,
                   ttl_s: int = ServerConfig.console_invitation_ttl_s) -> Invitation:
    """A new account, with its invitation (good for ``ttl_s`` seconds:
    ``ServerConfig.console_invitation_ttl_s``); 409 if the name is taken."""
    _check_new(account_id, full_name, role)
    now, stored = now_ms(), _regions(regions) if role == SUPERVISOR else ""
    with database.write() as session:
        if session.get(AccountRow, account_id) is not None:
            raise Conflict("account_exists", f"account {account_id!r} already exists")
        row = AccountRow(id=account_id, full_name=full_name.strip(), role=role,
                         regions=stored, created_at=utcnow())
        invitation = _invite(row, now, ttl_s)
        session.add(row)
        audit(session, now, actor, "account_created", account_id,
              {"full_name": row.full_name, "role": role, "regions": stored.splitlines()},
              Database.next_change(session))
    return invitation


def _existing(session: Session, account_id: str) -> AccountRow:
    row = session.get(AccountRow, account_id)
    if row is None:
        raise NotFound("unknown_account", f"no account {account_id!r}")
    return row


def invite_again(database: Database, actor: str, account_id: str, *,
                 ttl_s: int = ServerConfig.console_invitation_ttl_s) -> Invitation:
    """A new invitation for an account, good for ``ttl_s`` seconds (its password and
    one-time-code app are reset)."""
    now = now_ms()
    with database.write() as session:
        row = _existing(session, account_id)
        invitation = _invite(row, now, ttl_s)
        row.disabled_at = None
        session.add(row)
        audit(session, now, actor, "account_invited", account_id, {},
              Database.next_change(session))
    return invitation


def set_regions(database: Database, actor: str, account_id: str,
                regions: Iterable[str]) -> Account:
    """Limit a supervisor to ``regions`` (none: every region)."""
    stored = _regions(regions)
    with database.write() as session:
        row = _existing(session, account_id)
        if row.role != SUPERVISOR:
            raise BadRequest("not_supervisor", "only a supervisor is limited to regions")
        if row.regions != stored:
            row.regions = stored
            session.add(row)
            audit(session, now_ms(), actor, "account_regions", account_id,
                  {"regions": stored.splitlines()}, Database.next_change(session))
        return view(row)


def disable_account(database: Database, actor: str, account_id: str,
                    disabled: bool = True) -> Account:
    """Disable an account (its sessions end at their next request), or enable it again."""
    with database.write() as session:
        row = _existing(session, account_id)
        if actor == f"account:{account_id}" and disabled:
            raise Conflict("cannot_disable_self", "an administrator cannot disable themselves")
        if (row.disabled_at is not None) != disabled:
            row.disabled_at = utcnow() if disabled else None
            session.add(row)
            audit(session, now_ms(), actor, "account_disabled" if disabled else
                  "account_enabled", account_id, {}, Database.next_change(session))
        return view(row)


def account(database: Database, account_id: str) -> Account | None:
    """One account, or None."""
    with database.read() as session:
        row = session.get(AccountRow, account_id)
        return None if row is None else view(row)


def accounts(database: Database) -> list[Account]:
    """Every account, by name."""
    with database.read() as session:
        return [view(row) for row in session.exec(select(AccountRow).order_by(
            col(AccountRow.id)))]
