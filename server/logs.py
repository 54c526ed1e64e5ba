"""The registry's logs: one stream for the registry, uvicorn and the migrations.

Every record of the standard ``logging`` loggers (``field_sync.*``, ``uvicorn.*``, ``alembic.*``,
``litestar``) goes through structlog's formatter: one JSON object a line for a log collector, or
aligned, coloured lines for a person at a terminal. Each line carries the id of the request that
caused it (``server.api.request_ids``). Secrets are scrubbed from every line before it is written,
whatever logged them (``redact``); the registry's code also never logs a body or a header.

The server's modules log with ``logging.getLogger("field_sync...")`` and %-style arguments, as a
library does; only a process's entry point (``field-sync serve``, a worker) calls
``configure_logging``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, Literal

import structlog

__all__ = ["LogFormat", "configure_logging", "redact", "resolve_format"]

LogFormat = Literal["auto", "json", "console"]

_PATTERNS = (
    # An Authorization header or a token after "Bearer".
    (re.compile(r"(?i)(bearer\s+)[^\s,;'\"]+"), r"\1[redacted]"),
    # An authenticator's provisioning URI carries the TOTP secret.
    (re.compile(r"otpauth://\S+"), "[redacted otpauth URI]"),
    # A private key in PEM.
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                re.DOTALL), "[redacted private key]"),
    # A device token: the device id, a dot, and 43 characters of secret.
    (re.compile(r"\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\."
                r"[A-Za-z0-9_-]{20,}"), r"\1.[redacted]"),
    # An enrollment code, as issued (XXXX-XXXX-XXXX in its own alphabet).
    (re.compile(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b"),
     "[redacted code]"),
    # A password, secret or token given as name=value or "name": "value".
    (re.compile(r"(?i)(\b(?:password|passphrase|secret|token|totp)\b[\"']?\s*[:=]\s*[\"']?)"
                r"[^\s,;&'\"}]+"), r"\1[redacted]"),
    # SQLAlchemy puts a failed statement's parameters in its error: they may be secrets.
    (re.compile(r"\[parameters: [^\n]*"), "[parameters: redacted]"),
)

_known_secrets: set[str] = set()


def redact(text: str) -> str:
    """``text`` with every secret it may hold replaced by ``[redacted...]``."""
    for secret in _known_secrets:
        text = text.replace(secret, "[redacted]")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    event.pop("color_message", None)  # uvicorn's second, coloured copy of its message
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)
    return event


def resolve_format(log_format: LogFormat) -> Literal["json", "console"]:
    """``auto``: readable lines at a terminal, JSON lines anywhere else."""
    if log_format != "auto":
        return log_format
    return "console" if sys.stderr.isatty() else "json"


def configure_logging(log_format: LogFormat = "auto", level: str = "info",
                      secrets: Iterable[str] = ()) -> None:
    """Send every log record of this process to stderr, in ``log_format``, from ``level`` up;
    the ``secrets`` given (tokens this process knows) never appear in a line."""
    _known_secrets.update(secret for secret in secrets if len(secret) >= 8)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    json = resolve_format(log_format) == "json"
    renderer: Any = (structlog.processors.JSONRenderer() if json
                     else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, _redact_event, renderer])
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # Loggers that bring their own handlers would write a second, differently formatted line.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "litestar"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = name != "uvicorn.access"  # each request's own line replaces it
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # its set-up, each run
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True)
