"""The settings reference (``docs/settings.md``), written from the command line's own options.

Every flag of every command, with its environment variable, its default and its help, read
from the click commands, which read the registry's settings from ``ServerConfig``: the page
cannot say anything the code does not do. A test compares the file with ``render()``; after
changing a setting or a flag, write it again::

    python -m field_sync_cli.settings_page            # writes docs/settings.md
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from field_sync_cli.main import cli

__all__ = ["PAGE", "render"]

PAGE = Path(__file__).resolve().parent.parent / "docs" / "settings.md"

_INTRO = """\
# Settings reference

<!-- Written by `python -m field_sync_cli.settings_page` from the code; do not edit. -->

The registry reads each setting from a flag of `field-sync serve`, else from its environment
variable, else it takes the default. Every other command's flags work the same way. A flag
given more than once, or a variable holding a comma-separated list, sets a list.
"""

_EXIT_CODES = """\
## Exit status

Every command exits with one of these, and prints what went wrong as one line on stderr:

| Status | Meaning |
| --- | --- |
| 0 | genuine, or done |
| 1 | not genuine, a check failed, or the registry refused the request |
| 2 | usage: a flag or an argument is wrong or missing |
| 3 | could not reach or read what was named: a registry, a file, a database |

Shell completion comes from click: add
`eval "$(_FIELD_SYNC_COMPLETE=bash_source field-sync)"` to `~/.bashrc`
(`zsh_source` for `~/.zshrc`, `fish_source` for fish).
"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default(option: click.Option) -> str:
    if isinstance(option.show_default, str):
        return option.show_default
    if option.default in (None, "", ()) or callable(option.default) or not option.show_default:
        return ""
    return f"`{option.default}`"


def _rows(command: click.Command) -> Iterator[str]:
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            envvar = param.envvar if isinstance(param.envvar, str) else ""
            flags = ", ".join(f"`{name}`" for name in param.opts)
            yield (f"| {flags} | {f'`{envvar}`' if envvar else ''} | {_cell(_default(param))} "
                   f"| {_cell(param.help or '')} |")


def _commands(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
    for name in sorted(group.commands):
        command = group.commands[name]
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}", command


def _section(path: str, command: click.Command, context: click.Context) -> str:
    usage = " ".join(command.collect_usage_pieces(context))
    lines = [f"## `{path}`", "", _cell(command.help or "").replace("\\|", "|"), "",
             f"Usage: `{path} {usage}`", ""]
    rows = list(_rows(command))
    if rows:
        lines += ["| Flag | Environment variable | Default | What it sets |",
                  "| --- | --- | --- | --- |", *rows, ""]
    return "\n".join(lines)


def render() -> str:
    """The page, from the commands as they are."""
    context = click.Context(cli, info_name="field-sync")
    commands = dict(_commands(cli, "field-sync"))
    serve = commands.pop("field-sync serve")  # the registry's settings, first
    sections = [_section("field-sync serve", serve, context)]
    sections += [_section(path, command, context) for path, command in commands.items()]
    return "\n".join([_INTRO, *sections, _EXIT_CODES])


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PAGE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render())
    print(target)
