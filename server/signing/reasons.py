"""How a quarantined protocol keeps the rules it broke: a line each, ``rule <n> <code>:
<detail>``, written at ingest and read back by the dashboard, the console and the filter by
rule."""

from __future__ import annotations

import re

from field_sync.rules import Breach

__all__ = ["broken_rule", "reason_text", "rule_marker"]

_REASON = re.compile(r"^rule \d+ ([a-z_]+): (.*)$")


def reason_text(breach: Breach) -> str:
    """The line a broken rule is kept as."""
    return f"rule {breach.rule} {breach.code}: {breach.message}"


def broken_rule(line: str) -> tuple[str, str] | None:
    """A kept line's rule code and detail; None for a line not written by ``reason_text``."""
    match = _REASON.match(line)
    return None if match is None else (match.group(1), match.group(2))


def rule_marker(code: str) -> str:
    """Text that only a kept line of the rule ``code`` holds (what a filter by rule looks for)."""
    return f" {code}:"
