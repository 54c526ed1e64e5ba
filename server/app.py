"""The Litestar application of the registry."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin
from litestar.plugins.prometheus import PrometheusConfig
from sqlalchemy.exc import IntegrityError

from server.api.client_address import with_client_addresses
from server.api.guards import provide_caller, provide_registry
from server.api.openapi import openapi_config
from server.api.problems import (
    http_exception_to_problem,
    integrity_error_to_problem,
    unexpected_error_to_problem,
)
from server.api.request_ids import RequestIds
from server.authority.key_audit import record_handovers
from server.authority.keys import RegistryKeys
from server.config import ServerConfig
from server.console import ConsoleProtection, console_router
from server.data.database import Database
from server.logs import configure_logging
from server.metrics import DatabaseGauges, instrument_pools
from server.registry import Registry
from server.routes.admin import AdminController
from server.routes.anchor import audit_checkpoint, registry_key
from server.routes.blobs import blob_thumbnail, download_blob, missing_blobs, upload_blob
from server.routes.check import check_router
from server.routes.document import protocol_document
from server.routes.enrollment import enroll
from server.routes.health import health, ready
from server.routes.keys import revoke_key, rotate_key
from server.routes.metrics import metrics
from server.routes.protocols import get_protocol
from server.routes.reference import ReferenceController
from server.routes.supervision import RegistryController, SupervisorAdmin, SupervisorController
from server.routes.sync import pull_changes, push_ops
from server.routes.verify import trust_list_route, verification_page, verify_json
from server.sync.compression import ZSTD, ZstdCompression
from server.web import brand_logo, static_files, template_config

__all__ = ["app_from_environment", "create_app", "freeze_startup_objects", "prepare"]

log = logging.getLogger("field_sync.server")


def prepare(config: ServerConfig) -> tuple[Database, RegistryKeys]:
    """Make what a fresh registry needs before it serves, and open it: the data directory and
    administrator token, the schema at the newest migration, the registry keys (and in the
    audit log, a hand-over of the signing key not recorded yet)."""
    config.ensure_admin_token()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(config.database_url, config.read_replica)
    database.create_schema()
    keys = RegistryKeys.load(config.data_dir, config.registry_key, config.secret_key)
    record_handovers(database, keys.handovers)
    return database, keys


def app_from_environment() -> Litestar:
    """The app of one worker of ``serve --workers N``, configured by ``$FIELD_SYNC_*`` (its
    logs too: ``$FIELD_SYNC_LOG_FORMAT`` and ``$FIELD_SYNC_LOG_LEVEL``)."""
    config = ServerConfig()
    configure_logging(os.environ.get("FIELD_SYNC_LOG_FORMAT", "json"),  # type: ignore[arg-type]
                      os.environ.get("FIELD_SYNC_LOG_LEVEL", "info"),
                      secrets=(config.admin_token, config.metrics_token))
    app = create_app(config)
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Move what starting made (libraries, the app) out of the garbage collector's sight: it
    lives as long as the process, and every full collection during a large push would walk it
    all again. For a server process's entry point only: a process that builds apps over and
    over (a test run) would never collect their cycles."""
    gc.collect()
    gc.freeze()


def create_app(config: ServerConfig | None = None) -> Litestar:
    """The registry's ASGI application; the database is opened and closed with it."""
    config = config or ServerConfig()
    config.ensure_admin_token()
    console = ConsoleProtection(config, RegistryKeys.load(config.data_dir, config.registry_key,
                                                          config.secret_key))

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        database, keys = prepare(config)
        app.state.registry = Registry(config=config, database=database, keys=keys)
        console.store.bind(database)
        app.state.database_gauges = DatabaseGauges(database)
        instrument_pools(database)
        log.info("registry ready on %s", database.writer.url.render_as_string(hide_password=True))
        try:
            yield
        finally:
            database.dispose()

    app = Litestar(
        route_handlers=[health, ready, metrics, enroll, push_ops, pull_changes, get_protocol,
                        AdminController, trust_list_route, verify_json, verification_page,
                        rotate_key, revoke_key, ReferenceController, RegistryController,
                        SupervisorController, SupervisorAdmin, static_files(), brand_logo,
                        check_router(config), protocol_document, registry_key,
                        audit_checkpoint, missing_blobs, upload_blob, download_blob,
                        blob_thumbnail, console_router()],
        dependencies={
            "registry": Provide(provide_registry, sync_to_thread=False),
            "caller": Provide(provide_caller),
        },
        lifespan=[lifespan],
        stores={console.sessions.store: console.store},
        # Per-route counts and latencies, by the route's template (not each seal's URL); the
        # console's sessions.
        middleware=[PrometheusConfig(app_name="field-sync", prefix="field_sync",
                                     group_path=True).middleware, console.sessions.middleware],
        csrf_config=console.csrf,
        template_config=template_config(),
        # Logging is the process's to configure (``server.logs``), not the app's.
        logging_config=None,
        plugins=[ProblemDetailsPlugin(ProblemDetailsConfig())],
        exception_handlers={
            HTTPException: http_exception_to_problem,
            IntegrityError: integrity_error_to_problem,
            Exception: unexpected_error_to_problem,
        },
        request_max_body_size=config.max_body_bytes,
        # Tablets sync over mobile networks: a pull page shrinks about 7x. Zstandard where the
        # client takes it (server.sync.compression), else gzip at level 1 (~4 ms a megabyte, where
        # the default level 9 would cost more than the page itself).
        compression_config=CompressionConfig(backend=ZSTD, compression_facade=ZstdCompression,
                                             gzip_fallback=True, gzip_compress_level=1,
                                             minimum_size=1024,
                                             exclude_opt_key="skip_compression"),
        openapi_config=openapi_config(version("field-sync")),
    )
    # Around everything, unrouted requests too: each request's id, in its response and its
    # log lines; outside it, who the client is (behind trusted proxies). (Litestar's own
    # middleware runs only once a route is found.)
    app.asgi_handler = with_client_addresses(RequestIds(app.asgi_handler),
                                             config.trusted_proxies)
    return app
