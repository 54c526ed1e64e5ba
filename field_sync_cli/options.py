"""The flags several commands share, spelt and read the same way everywhere.

``--server``, ``--admin-token``, ``--data-dir`` and ``--db``, each with its environment
variable; and the registry's settings as flags of ``serve``, derived from ``ServerConfig``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from server.config import ServerConfig, default_data_dir
from server.settings import Setting, SettingError

__all__ = ["DEFAULT_SERVER", "admin_options", "admin_token_option", "data_dir_option",
           "token_option",
           "database_options", "option", "registry_url", "resolve_admin_token", "server_option",
           "setting_options"]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_SERVER = "http://127.0.0.1:8470"


def option(*names: str, env: str = "", **kwargs: Any) -> Callable[[F], F]:
    """``click.option`` with its environment variable named in the help."""
    if env:
        kwargs.update(envvar=env, show_envvar=True)
    return click.option(*names, **kwargs)


def registry_url(value: str) -> str:
    """A registry's address as given, checked to be one (``click.BadParameter`` if not)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{value!r} is not an http(s) address; give one like "
                                 f"{DEFAULT_SERVER}", param_hint="'--server'")
    return value.rstrip("/")


def server_option(default: str | None = DEFAULT_SERVER, shown: str | bool = True,
                  help: str = "The registry's address.") -> Callable[[F], F]:
    """``--server`` (``$FIELD_SYNC_SERVER``), checked to be an http(s) address."""
    return option("--server", env="FIELD_SYNC_SERVER", default=default, show_default=shown,
                  help=help, callback=lambda _ctx, _param, value:
                  None if value is None else registry_url(value))

data_dir_option = option(
    "--data-dir", env="FIELD_SYNC_DATA_DIR", type=click.Path(path_type=Path),
    default=default_data_dir, show_default="~/.local/share/field-sync",
    help="The registry's data directory (its SQLite file, keys and administrator token).")

def token_option(*aliases: str, help: str = "The registry's administrator token.",
                 ) -> Callable[[F], F]:
    """``--admin-token`` (``$FIELD_SYNC_ADMIN_TOKEN``), and other names for it."""
    return option("--admin-token", *aliases, "admin_token", env="FIELD_SYNC_ADMIN_TOKEN",
                  default="", show_default="read from DATA_DIR/admin-token", help=help)


admin_token_option = token_option()


def admin_options(command: F) -> F:
    """``--server``, ``--admin-token`` and ``--data-dir`` (where the token file is)."""
    return server_option()(admin_token_option(data_dir_option(command)))


def database_options(command: F) -> F:
    """``--db`` and ``--data-dir``: the registry's database, opened directly."""
    return option("--db", env="FIELD_SYNC_DB", default="", show_default="SQLite in DATA_DIR",
                  help="Database URL (postgresql://user@host/name).")(data_dir_option(command))


def resolve_admin_token(given: str, data_dir: Path) -> str:
    """The administrator token: the flag, ``$FIELD_SYNC_ADMIN_TOKEN``, or the data directory's
    ``admin-token`` file (on the registry's own machine)."""
    if given:
        return given
    path = data_dir / "admin-token"
    if path.exists():
        return path.read_text().strip()
    raise click.UsageError("no administrator token: give --admin-token, set "
                           f"FIELD_SYNC_ADMIN_TOKEN, or point --data-dir at the registry's "
                           f"data directory (no {path})")


class SettingType(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """A setting's value read from a flag or its variable, as ``Setting.parse`` reads it."""

    envvar_list_splitter = ","

    def __init__(self, setting: Setting) -> None:
        self.setting = setting
        self.name = setting.kind.__name__.lower()

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        """``[any|totp|biometric]`` for a choice, else the value's type."""
        if self.setting.choices:
            return f"[{'|'.join(self.setting.choices)}]"
        return {"path": "PATH", "int": "INTEGER"}.get(self.name, "TEXT")

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        """The typed value, or a usage error naming the flag."""
        if not isinstance(value, str):
            return value
        try:
            return self.setting.parse_one(value)
        except SettingError as exc:
            self.fail(exc.reason, param, ctx)


def setting_options(command: F) -> F:
    """A flag for every registry setting (``ServerConfig``), each with its variable, default
    and help; the command gets them as keyword arguments named as the fields, None when not
    given."""
    for setting in reversed(ServerConfig.settings()):
        command = option(
            setting.flag, setting.field, env=setting.env, type=SettingType(setting),
            multiple=setting.multiple, default=None,
            show_default=setting.shown_default or False,
            help=setting.help.replace("``", "'"))(command)
    return command
