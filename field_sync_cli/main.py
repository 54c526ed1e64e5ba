"""``field-sync``: the command line.

Exit status: 0 genuine or ok; 1 not genuine, or a check failed, or the registry refused;
2 usage; 3 could not reach or read what was named (``field_sync_cli.errors``).

A command is a click command in its own module, added to ``COMMANDS`` below; it takes the shared
flags from ``field_sync_cli.options`` and lets errors rise (``field_sync_cli.errors`` turns them
into one line and an exit code). Heavy imports stay inside the commands' bodies, so that
``--help`` and shell completion answer at once.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from field_sync_cli.admin_commands import admin
from field_sync_cli.errors import FieldSyncGroup, finish, run
from field_sync_cli.options import (
    admin_token_option,
    data_dir_option,
    database_options,
    option,
    resolve_admin_token,
    server_option,
    token_option,
)
from field_sync_cli.serve_command import log_options, serve
from schemas.templates import LANGUAGES

if TYPE_CHECKING:
    from server.logs import LogFormat

__all__ = ["COMMANDS", "cli", "main"]

F = TypeVar("F", bound=Any)

_HELP = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=FieldSyncGroup, context_settings=_HELP, epilog=(
    "Exit status: 0 genuine or ok; 1 not genuine, a check failed, or the registry refused; "
    "2 usage; 3 could not reach or read what was named. Shell completion: "
    'eval "$(_FIELD_SYNC_COMPLETE=bash_source field-sync)" (zsh_source, fish_source).'))
@click.version_option(package_name="field-sync", prog_name="field-sync")
def cli() -> None:
    """field-sync: the registry of sealed inspection protocols, and its tools."""


@click.command()
@server_option(None, "start a registry of its own", "Walk through against this registry.")
@admin_token_option
@data_dir_option
@click.option("--out", type=click.Path(path_type=Path), default=None,
              show_default="a temporary folder",
              help="Keep the tablets' files, the seal's QR and the trust list here.")
def demo(server: str | None, admin_token: str, data_dir: Path, out: Path | None) -> None:
    """Two tablets fill one protocol offline, sync, sign and verify (exit 0 if all agree)."""
    from field_sync_cli.demo import run_demo

    if server:
        admin_token = resolve_admin_token(admin_token, data_dir)
    finish(run_demo(server_url=server, admin_token=admin_token,
                    out=str(out) if out else None))


@click.command()
@click.argument("seal")
@click.option("--trust-list", type=click.Path(dir_okay=False), default=None,
              help="The registry-signed trust list (JSON), for a verdict offline.")
@server_option(None, False, "Ask this registry too (and take its trust list if none is "
                            "given).")
@option("--registry-key", env="FIELD_SYNC_REGISTRY_KEY_PIN", default=None,
        help="The agency's registry key, pinned: a PEM file of its public key, or its "
             "fingerprint (GET /v1/registry-key gives both). Needed for a verdict offline; "
             "without it, --server's answer is the registry's own word.")
def verify(seal: str, trust_list: str | None, server: str | None,
           registry_key: str | None) -> None:
    """Is a sealed protocol genuine? SEAL is a QR image, a file with the seal's text, or the
    text itself. Exit 0 only for a genuine seal."""
    from field_sync_cli.verify_command import run_verify

    finish(run_verify(seal, trust_list, server, registry_key))


_FILTERS = {"number": "Only the protocol of this number.",
            "entity-tin": "Only protocols of this entity (its STIR).",
            "inspector": "Only protocols this inspector signed or leads.",
            "site": "Only protocols of this site.",
            "status": "Only protocols in this status (registered, quarantined...).",
            "signed-from": "Only protocols signed on or after this day (YYYY-MM-DD).",
            "signed-to": "Only protocols signed on or before this day (YYYY-MM-DD)."}


def _filter_options(command: F) -> F:
    for name, text in reversed(_FILTERS.items()):
        command = click.option(f"--{name}", default="", help=text)(command)
    return command


@click.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True, help="JSON lines, or CSV with a header.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              show_default="standard output", help="The file to write.")
@_filter_options
@server_option()
@token_option("--token", help="The registry's administrator token, or a supervisor's.")
@data_dir_option
def export(fmt: str, out: str | None, server: str, admin_token: str, data_dir: Path,
           **filters: str) -> None:
    """Stream the registry's protocols to a file (a supervisor's token works too)."""
    from field_sync_cli.export_command import run_export

    finish(run_export(server, resolve_admin_token(admin_token, data_dir), fmt, out,
                      filters))


@click.command()
@click.argument("protocol_id")
@click.option("--lang", type=click.Choice(LANGUAGES), default="uz-Latn", show_default=True,
              help="The language the protocol is printed in.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The PDF file to write.")
@server_option()
@token_option("--token", help="The registry's administrator token, or a supervisor's or a "
                              "device's.")
@data_dir_option
def render(protocol_id: str, lang: str, out: Path, server: str, admin_token: str,
           data_dir: Path) -> None:
    """The printed protocol PROTOCOL_ID as a PDF, as the registry renders it (the same bytes
    the tablet makes offline)."""
    from field_sync_cli.render_command import render as run_render

    finish(run_render(protocol_id, lang, out, server, resolve_admin_token(admin_token, data_dir)))


@click.group(cls=FieldSyncGroup)
def audit() -> None:
    """The registry's audit log."""


@audit.command("verify")
@database_options
@click.option("--checkpoint", default=None,
              help="A checkpoint kept outside the registry (by a supervisor, a tablet, an "
                   "export): a file of its JSON, or the JSON. The log must reach it.")
@option("--registry-key", env="FIELD_SYNC_REGISTRY_KEY_PIN", default=None,
        show_default="the registry key in the data directory",
        help="The registry key checkpoints must be signed by: a PEM file of its public key, "
             "or its fingerprint.")
def audit_verify(db: str, data_dir: Path, checkpoint: str | None,
                 registry_key: str | None) -> None:
    """Recompute the audit log's hash chain, and check it reaches the newest checkpoint the
    registry signed and the one given; exit 1 if it is broken, 3 if what was named cannot be
    read (no database is ever made)."""
    from field_sync_cli.audit_command import run_audit_verify

    finish(run_audit_verify(db, data_dir, checkpoint, registry_key))


@click.group(cls=FieldSyncGroup)
def db() -> None:
    """The registry's database."""


@db.command("upgrade")
@database_options
@log_options
def db_upgrade(db: str, data_dir: Path, log_level: str, log_format: LogFormat) -> None:
    """Apply the migrations the database lacks (made if missing)."""
    from field_sync_cli.database_commands import run_db_upgrade

    finish(run_db_upgrade(db, data_dir, log_format, log_level))


@click.group(cls=FieldSyncGroup)
def schemas() -> None:
    """The wire messages' JSON Schemas."""


@schemas.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def schemas_export(folder: Path) -> None:
    """Write <Name>.schema.json files into FOLDER."""
    from schemas import export_json_schemas

    for path in export_json_schemas(folder):
        click.echo(path)


COMMANDS: tuple[click.Command, ...] = (serve, demo, verify, export, render, admin, audit, db,
                                       schemas)
"""Every command of ``field-sync``: a new one is added here."""

for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return its exit status."""
    return run(cli, argv, "field-sync")


if __name__ == "__main__":
    sys.exit(main())
