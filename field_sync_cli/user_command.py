"""``field-sync admin create-user NAME``: make a console account (the first administrator, on a
new registry) and print its invitation link, by which its holder sets a password and enrolls a
one-time-code app. Works on the registry's database directly, so no account is needed first.

Exit codes: 0 made; 1 refused (the name is taken or not a valid name, a role or region that
does not fit); 3 the database could not be opened.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

__all__ = ["run_create_user"]

_DEFAULT_URL = "http://127.0.0.1:8470"


def run_create_user(account_id: str, full_name: str, role: str, regions: Sequence[str],
                    data_dir: Path | None, db_url: str, public_url: str) -> int:
    """Make the account and print its invitation link; the exit code."""
    from server import Database, ServerConfig
    from server.problems import ProblemError
    from server.services.accounts import create_account

    config = ServerConfig(data_dir=data_dir or ServerConfig().data_dir, db_url=db_url,
                          public_url=public_url)
    try:
        database = Database(config.database_url)
        database.create_schema()
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        print(f"cannot open the registry's database: {reason}", file=sys.stderr)
        return 3
    try:
        invitation = create_account(database, "cli", account_id, full_name, role, regions)
    except ProblemError as exc:
        print(f"not made: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    address = config.public_url or os.environ.get("FIELD_SYNC_PUBLIC_URL") or _DEFAULT_URL
    until = dt.datetime.fromtimestamp(invitation.expires_ms / 1000, dt.UTC)
    print(f"{role} {account_id!r} made; the invitation (good until {until:%Y-%m-%d %H:%M} UTC) "
          f"sets the password and the one-time-code app:\n{invitation.link(address)}")
    return 0
