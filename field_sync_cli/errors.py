"""What the command line says when it cannot do what it was asked: one line, and an exit code.

    click.ClickException                     "field-sync: <message>" on stderr
    ├── click.UsageError               2     a flag or an argument is wrong or missing
    ├── Failed                         1     a check failed, or the registry refused
    └── Unreachable                    3     could not reach or read what was named
                                             (a server, a file, a database)

Exit 0 is genuine or ok. Commands raise these, or let the errors of the libraries they call
rise: ``translate`` turns those (a connection refused, a missing file, a registry that answers
with a problem detail) into one of the above, at one place, the command group
(``FieldSyncGroup``). No traceback reaches the terminal unless ``FIELD_SYNC_DEBUG`` is set.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn

import click
import msgspec

from server.settings import SettingError

if TYPE_CHECKING:
    import httpx

__all__ = ["FAILED", "OK", "UNREACHABLE", "USAGE", "Failed", "FieldSyncGroup", "RegistryRefused",
           "Unreachable", "finish", "run", "translate"]

OK, FAILED, USAGE, UNREACHABLE = 0, 1, 2, 3


class _OneLine(click.ClickException):
    """A click exception printed as ``field-sync: <message>``."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"field-sync: {self.format_message()}", file=file, err=True)


class Failed(_OneLine):
    """A check failed, or the registry refused the request (exit 1)."""

    exit_code = FAILED


class Unreachable(_OneLine):
    """What was named could not be reached or read (exit 3)."""

    exit_code = UNREACHABLE


class RegistryRefused(Failed):
    """The registry answered a request with an error (a problem detail)."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        try:
            problem = msgspec.json.decode(response.content, type=dict[str, Any])
            reason = f"{problem.get('code', '')}: {problem.get('detail', '')}".strip(": ")
        except msgspec.DecodeError:
            reason = response.reason_phrase
        method, url = response.request.method, response.request.url
        super().__init__(f"the registry refused {method} {url.path}: {self.status} {reason}")

    @classmethod
    def check(cls, response: httpx.Response) -> httpx.Response:
        """The response, or this error when it is one (4xx or 5xx)."""
        if response.status_code >= 400:
            raise cls(response)
        return response


def finish(code: int) -> NoReturn:
    """End the command with exit status ``code`` (``OK``, ``FAILED``...)."""
    raise click.exceptions.Exit(code)


def _os_error(exc: OSError) -> click.ClickException:
    where = f"{exc.filename}: " if exc.filename else ""
    if isinstance(exc, FileNotFoundError):
        return Unreachable(f"{where}no such file")
    return Unreachable(f"{where}{exc.strerror or exc}")


def _http_error(exc: Exception) -> click.ClickException | None:
    httpx = sys.modules.get("httpx")  # not loaded: the error cannot be one of its
    if httpx is None:
        return None
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return click.UsageError(f"{exc} (give an address like http://127.0.0.1:8470)")
    if isinstance(exc, httpx.TransportError):
        url = exc.request.url if exc._request is not None else "the server"
        return Unreachable(f"could not reach {url}: {exc or type(exc).__name__}")
    return None


def _database_error(exc: Exception) -> click.ClickException | None:
    errors = sys.modules.get("sqlalchemy.exc")
    if errors is None:
        return None
    if isinstance(exc, errors.OperationalError | errors.InterfaceError):
        return Unreachable(f"could not reach the database: {exc.orig or exc}".splitlines()[0])
    if isinstance(exc, errors.ArgumentError):
        return click.UsageError(f"not a database URL: {exc}")
    return None


def translate(exc: Exception) -> click.ClickException | None:
    """The command-line error a library's exception stands for; None for a bug."""
    if isinstance(exc, OSError) and exc.errno != errno.EPIPE:
        return _os_error(exc)
    if isinstance(exc, SettingError):
        return click.UsageError(str(exc))
    return _http_error(exc) or _database_error(exc)


class FieldSyncGroup(click.Group):
    """A command group whose commands' failures end as one line and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; translate what it raised (``translate``)."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            mapped = translate(exc)
            if mapped is not None:
                raise mapped from exc
            if isinstance(exc, OSError) or os.environ.get("FIELD_SYNC_DEBUG"):
                raise  # a broken pipe is click's to quiet; a bug, shown when asked for
            raise Failed(f"unexpected error: {type(exc).__name__}: {exc} "
                         "(FIELD_SYNC_DEBUG=1 shows the traceback)") from exc


def run(group: click.Group, argv: Sequence[str] | None, prog_name: str) -> int:
    """Run the command line and return its exit status; every error is one line on stderr
    (a usage error too, with where to find help)."""
    try:
        result = group.main(args=list(argv) if argv is not None else None, prog_name=prog_name,
                            standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message(), err=True)  # a group named alone: its help
        return USAGE
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"{prog_name}: {exc.format_message()}{hint}", err=True)
        return USAGE
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo(f"{prog_name}: aborted", err=True)
        return FAILED
    return result if isinstance(result, int) else OK
