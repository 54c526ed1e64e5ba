"""``field-sync``: the command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server import ServerConfig, create_app
    from server.app import freeze_startup_objects, prepare

    config = ServerConfig(
        data_dir=Path(args.data_dir) if args.data_dir else ServerConfig().data_dir,
        db_url=args.db or "",
    )
    token_note = ("from $FIELD_SYNC_ADMIN_TOKEN" if config.admin_token
                  else f"in {config.data_dir / 'admin-token'}")
    print(f"field-sync registry on http://{args.host}:{args.port}  "
          f"(database: {config.database_url.split('@')[-1]}; administrator token {token_note}; "
          f"{args.workers} worker{'s' if args.workers > 1 else ''})", flush=True)
    if args.workers == 1:
        app = create_app(config)
        freeze_startup_objects()
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
        return 0
    # Worker processes build their app from the environment; the schema, keys and admin token
    # are made here once, so the workers never race to make them.
    database, _ = prepare(config)
    database.dispose()
    os.environ.update(config.environment())
    uvicorn.run("server.app:app_from_environment", factory=True, workers=args.workers,
                host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from field_sync_cli.demo import run_demo

    return run_demo(server_url=args.server, admin_token=args.admin_token, out=args.out)


def _verify(args: argparse.Namespace) -> int:
    from field_sync_cli.verify_command import run_verify

    return run_verify(args.seal, args.trust_list, args.server, args.registry_key)


def _import(args: argparse.Namespace) -> int:
    from field_sync_cli.admin_command import run_import

    return run_import(args.file, args.kind, args.server, args.admin_token)


def _create_user(args: argparse.Namespace) -> int:
    from field_sync_cli.user_command import run_create_user

    return run_create_user(args.name, args.full_name, args.role, args.region,
                           Path(args.data_dir) if args.data_dir else None, args.db or "",
                           args.public_url or "")


def _database(args: argparse.Namespace) -> Any:
    from server import Database, ServerConfig

    config = ServerConfig(data_dir=Path(args.data_dir) if args.data_dir
                          else ServerConfig().data_dir, db_url=args.db or "")
    return Database(config.database_url)


def _db_upgrade(args: argparse.Namespace) -> int:
    from server.schema import current_revision, head_revision

    # Each migration it runs, and the progress a long one logs (to ``….progress``), on stderr;
    # not Alembic's notes on the database's dialect.
    steps = logging.StreamHandler(sys.stderr)
    steps.addFilter(lambda record: record.name.endswith(".progress")
                    or record.getMessage().startswith("Running "))
    migrations = logging.getLogger("alembic.runtime.migration")
    level, migrations.level = migrations.level, logging.INFO
    migrations.addHandler(steps)
    try:
        database = _database(args)
        before = current_revision(database.writer)
        database.create_schema()
        print(f"database at revision {head_revision()} (was {before or 'empty'})")
        database.dispose()
    finally:
        migrations.removeHandler(steps)
        migrations.setLevel(level)
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from server.audit import verify_chain

    database = _database(args)
    with database.read() as session:
        count, broken = verify_chain(session)
    database.dispose()
    if broken is None:
        print(f"audit log intact: {count} entries, every hash and every merged op checks out")
        return 0
    print(f"audit log BROKEN at entry {broken.seq}: {broken.reason}")
    return 1


def _export(args: argparse.Namespace) -> int:
    from field_sync_cli.export_command import run_export

    filters = {name: getattr(args, name) for name in (
        "number", "entity_tin", "inspector", "site", "status", "signed_from", "signed_to")}
    return run_export(args.server, args.token, args.format, args.out, filters)


def _export_schemas(args: argparse.Namespace) -> int:
    from schemas import export_json_schemas

    for path in export_json_schemas(Path(args.folder)):
        print(path)
    return 0


def _database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="SQLAlchemy URL (default: SQLite in the data directory)")
    parser.add_argument("--data-dir", help="where the SQLite file and the keys live")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="field-sync", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the registry server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8470)
    _database_options(serve)
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes sharing the port (PostgreSQL is the database for "
                            "several; default 1)")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="two tablets fill one protocol offline and sync")
    demo.add_argument("--server", help="use this registry instead of starting one")
    demo.add_argument("--admin-token", help="the registry's administrator token (with --server)")
    demo.add_argument("--out", help="keep the tablets' files in this folder")
    demo.set_defaults(run=_demo)

    verify = commands.add_parser("verify", help="is a sealed protocol genuine? (exit 0 if so)")
    verify.add_argument("seal", help="a QR image (PNG, JPEG), a file with the seal text, or "
                                     "the text itself")
    verify.add_argument("--trust-list", help="the registry-signed trust list (JSON), offline")
    verify.add_argument("--server", help="ask this registry too (and fetch its trust list)")
    verify.add_argument("--registry-key", help="PEM of the registry key to pin the list to")
    verify.set_defaults(run=_verify)

    admin = commands.add_parser("admin", help="administer a running registry")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    load = admin_commands.add_parser("import", help="load reference data (CSV or JSON lines)")
    load.add_argument("file")
    load.add_argument("--kind", default="", help="inspector, instrument, entity, site or "
                      "assignment (JSON lines may name their own)")
    load.add_argument("--server", default="http://127.0.0.1:8470")
    load.add_argument("--admin-token")
    load.set_defaults(run=_import)
    user = admin_commands.add_parser("create-user", help="make a console account and print "
                                     "its invitation link")
    user.add_argument("name")
    user.add_argument("--full-name", required=True)
    user.add_argument("--role", choices=("administrator", "supervisor"),
                      default="administrator")
    user.add_argument("--region", action="append", default=[],
                      help="a supervisor's region (repeat; none: every region)")
    user.add_argument("--public-url", help="the registry's address for the link "
                      "($FIELD_SYNC_PUBLIC_URL)")
    _database_options(user)
    user.set_defaults(run=_create_user)

    for group, name, summary, run in (
        ("db", "upgrade", "apply the migrations the database lacks", _db_upgrade),
        ("audit", "verify", "recompute the audit log's chain; exit 1 if broken", _audit_verify),
    ):
        sub = commands.add_parser(group, help=f"{group} {name}: {summary}")
        command = sub.add_subparsers(dest=f"{group}_command", required=True).add_parser(
            name, help=summary)
        _database_options(command)
        command.set_defaults(run=run)

    export = commands.add_parser("export", help="stream the registry's protocols to a file")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--out", help="the file to write (default: standard output)")
    export.add_argument("--server", default="http://127.0.0.1:8470")
    export.add_argument("--token", help="an administrator or supervisor token")
    for name in ("number", "entity-tin", "inspector", "site", "status", "signed-from",
                 "signed-to"):
        export.add_argument(f"--{name}", default="")
    export.set_defaults(run=_export)

    schemas = commands.add_parser("schemas", help="JSON Schema of the wire messages")
    schemas_commands = schemas.add_subparsers(dest="schemas_command", required=True)
    schema_export = schemas_commands.add_parser("export", help="write <Name>.schema.json files")
    schema_export.add_argument("folder")
    schema_export.set_defaults(run=_export_schemas)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return its exit status."""
    args = _parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
