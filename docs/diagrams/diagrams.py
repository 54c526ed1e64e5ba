"""The documentation's diagrams: written as Mermaid in the pages, shown as SVG drawn beforehand.

The site loads nothing from elsewhere, at build time or when read, so no diagram is drawn in the
reader's browser. Each ```` ```mermaid ```` block of a page stays its diagram's source; this
MkDocs hook (``hooks:`` in ``mkdocs.yml``) puts in its place the SVG drawn from exactly that
source, ``docs/diagrams/<hash>.svg``, named by the SHA-256 of the source. A block changed and not
drawn again fails the strict build, naming the command that draws it:

    python docs/diagrams/diagrams.py path/to/mermaid.min.js

which draws every missing diagram with that Mermaid in Debian's headless Chromium (npm's
``mermaid`` package, ``npm install mermaid@11``; a developer's tool, never a build step) and
removes the drawings no page uses any more.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["BLOCK", "drawing", "on_page_markdown"]

HERE = Path(__file__).resolve().parent
BLOCK = re.compile(r"^```mermaid[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_KINDS = {"sequenceDiagram": "Sequence diagram", "stateDiagram-v2": "State diagram",
          "flowchart": "Flowchart", "graph": "Flowchart"}


def drawing(source: str) -> str:
    """The file name of the SVG drawn from a block's ``source``."""
    return hashlib.sha256(source.strip().encode()).hexdigest()[:16] + ".svg"


def _alt(source: str) -> str:
    first = source.strip().split(None, 1)[0] if source.strip() else ""
    return _KINDS.get(first, "Diagram")


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Each Mermaid block of a page as its drawing; a block not drawn fails the build."""
    from mkdocs.exceptions import PluginError

    def image(found: re.Match[str]) -> str:
        name = drawing(found.group(1))
        if not (HERE / name).exists():
            raise PluginError(f"{page.file.src_uri}: a diagram is not drawn; run "
                              "python docs/diagrams/diagrams.py path/to/mermaid.min.js")
        folder = posixpath.dirname(page.file.src_uri)
        return f"![{_alt(found.group(1))}]({posixpath.relpath(f'diagrams/{name}', folder)})"

    return BLOCK.sub(image, markdown)


_RENDER = """
const [source, done] = [arguments[0], arguments[arguments.length - 1]];
mermaid.initialize({startOnLoad: false, securityLevel: "strict", htmlLabels: false,
                    flowchart: {htmlLabels: false},
                    fontFamily: "Verdana, DejaVu Sans, sans-serif"});
mermaid.render("diagram", source).then(drawn => done(drawn.svg), failed => done("!" + failed));
"""


def main(mermaid_js: Path) -> int:
    """Draw every diagram the pages have and this folder lacks; remove the ones no page has."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    sources = {drawing(found.group(1)): found.group(1)
               for page in sorted(HERE.parent.rglob("*.md"))
               for found in BLOCK.finditer(page.read_text())}
    for stale in {path.name for path in HERE.glob("*.svg")} - set(sources):
        (HERE / stale).unlink()
    missing = {name: source for name, source in sources.items() if not (HERE / name).exists()}
    if not missing:
        return 0
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "draw.html"
        page.write_text(f'<!doctype html><script src="{mermaid_js.resolve().as_uri()}"></script>')
        try:
            driver.set_script_timeout(60)
            driver.get(page.as_uri())
            return _draw(driver, missing)
        finally:
            driver.quit()


def _draw(driver: Any, missing: dict[str, str]) -> int:
    for name, source in missing.items():
        svg = driver.execute_async_script(_RENDER, source)
        if svg.startswith("!"):
            print(f"{name}: {svg[1:]}", file=sys.stderr)
            return 1
        (HERE / name).write_text(svg + "\n")
        print(f"drew {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
