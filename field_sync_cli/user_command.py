"""``field-sync admin create-user NAME``: make a console account (the first administrator, on a
new registry) and print its invitation link, by which its holder sets a password and enrolls a
one-time-code app. Works on the registry's database directly, so no account is needed first.

Exit codes: 0 made; 1 refused (the name is taken or not a valid name, or a role that does not
fit); 3 the database could not be opened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from field_sync_cli.errors import OK, Failed, Unreachable

__all__ = ["run_create_user"]

_DEFAULT_URL = "http://127.0.0.1:8470"


def run_create_user(account_id: str, full_name: str, role: str, regions: Sequence[str],
                    data_dir: Path, db_url: str, public_url: str) -> int:
    """Make the account and print its invitation link; the exit code."""
    from server import Database, ServerConfig
    from server.api.problems import ProblemError
    from server.services.accounts import create_account

    config = ServerConfig(data_dir=data_dir, db_url=db_url, public_url=public_url)
    try:
        database = Database(config.database_url)
        database.create_schema()
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise Unreachable(f"cannot open the registry's database: {reason}") from exc
    try:
        invitation = create_account(database, "cli", account_id, full_name, role, regions,
                                    ttl_s=config.console_invitation_ttl_s)
    except ProblemError as exc:
        raise Failed(f"not made: {exc.detail}") from exc
    finally:
        database.dispose()
    until = dt.datetime.fromtimestamp(invitation.expires_ms / 1000, dt.UTC)
    click.echo(f"{role} {account_id!r} made; the invitation (good until "
               f"{until:%Y-%m-%d %H:%M} UTC) sets the password and the one-time-code app:\n"
               f"{invitation.link(config.public_url or _DEFAULT_URL)}")
    return OK
