"""``field-sync serve``: run the registry.

Its flags are the registry's settings (``ServerConfig``, one flag and one environment variable
each) and the process's own: where it listens, how many workers, how it logs.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import TYPE_CHECKING, Any

import click

from field_sync_cli.options import option, setting_options

if TYPE_CHECKING:
    from server.logs import LogFormat

__all__ = ["log_options", "serve"]

log = logging.getLogger("field_sync.server")


def log_options(command: Any) -> Any:
    """``--log-format`` and ``--log-level``, for every command that logs."""
    command = option("--log-level", env="FIELD_SYNC_LOG_LEVEL", default="info",
                     show_default=True, type=click.Choice(
                         ["debug", "info", "warning", "error"], case_sensitive=False),
                     help="Least severe log lines written.")(command)
    return option("--log-format", env="FIELD_SYNC_LOG_FORMAT", default="auto",
                  show_default=True, type=click.Choice(["auto", "json", "console"]),
                  help="json: one JSON object a line (for a log collector); console: lines "
                       "for a person; auto: console at a terminal, else json.")(command)


def _announce(config: Any, host: str, port: int, workers: int, token_from: str) -> None:
    log.info("field-sync registry on http://%s:%d (database %s; administrator token in %s; "
             "%d worker%s)", host, port, config.database_url.split("@")[-1], token_from,
             workers, "s" if workers > 1 else "")
    if config.public_url:
        log.info("seals point at %s/V/...", config.public_url)
    else:
        log.warning("no public URL is set (--public-url, FIELD_SYNC_PUBLIC_URL): seals will "
                    "point at http://%s:%d/V/..., the address this listens on, and trust lists "
                    "name it; set it to the address people will reach", host, port)


def _share_metrics(config: Any) -> None:
    """Several workers count into files in one folder, read together by ``/metrics``."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(config.data_dir / "metrics")
    shutil.rmtree(folder, ignore_errors=True)  # counts of an earlier run are not this one's
    os.makedirs(folder)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


@click.command()
@option("--host", env="FIELD_SYNC_HOST", default="127.0.0.1", show_default=True,
        help="Address to listen on (0.0.0.0: every interface; put a TLS proxy in front).")
@option("--port", env="FIELD_SYNC_PORT", default=8470, show_default=True,
        type=click.IntRange(1, 65535), help="Port to listen on.")
@option("--workers", env="FIELD_SYNC_WORKERS", default=1, show_default=True,
        type=click.IntRange(1, 64),
        help="Server processes sharing the port (PostgreSQL is the database for several).")
@log_options
@setting_options
def serve(host: str, port: int, workers: int, log_level: str, log_format: LogFormat,
          **settings: Any) -> None:
    """Run the registry server.

    Every setting is a flag, or the environment variable named beside it; a flag wins.
    """
    from server.config import ServerConfig
    from server.logs import configure_logging, resolve_format

    given = {name: value for name, value in settings.items() if value not in (None, ())}
    config = ServerConfig(**given)
    token_from = ("the environment or --admin-token" if config.admin_token
                  else str(config.data_dir / "admin-token"))
    configure_logging(log_format, log_level, secrets=(config.ensure_admin_token(),
                                                      config.metrics_token))
    _announce(config, host, port, workers, token_from)
    # One fixed address for seals and trust lists, never the Host header of whoever asks.
    config.public_url = config.public_url or f"http://{host}:{port}"
    import uvicorn

    # The app reads X-Forwarded-For itself, from the trusted proxies only
    # (server.api.client_address).
    common: dict[str, Any] = {"host": host, "port": port, "log_level": log_level.lower(),
                              "log_config": None, "access_log": False, "proxy_headers": False}
    if workers == 1:
        from server.app import create_app, freeze_startup_objects

        app = create_app(config)
        freeze_startup_objects()
        uvicorn.run(app, **common)
        return
    # Worker processes build their app from the environment; the schema, keys and admin token
    # are made here once, so the workers never race to make them.
    _share_metrics(config)
    from server.app import prepare

    database, _ = prepare(config)
    database.dispose()
    os.environ.update(config.environment())
    os.environ.update(FIELD_SYNC_LOG_FORMAT=resolve_format(log_format),
                      FIELD_SYNC_LOG_LEVEL=log_level)
    uvicorn.run("server.app:app_from_environment", factory=True, workers=workers, **common)
