"""Rendering the printed protocol: a filled protocol (three scales, nine measurements, a team
of two, signed and sealed) to PDF, in each language, as a tablet does offline and the registry
does for ``/v1/protocols/{id}/document.pdf``.

Prints one JSON line and a table. Figures are medians over many rounds of wall and CPU time on
one core (the machine is shared: read CPU time), never pass/fail. Target: under 50 ms.

    ./dev bench document [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' filled protocol

from field_sync.document import render_pdf  # noqa: E402
from field_sync.i18n import LANGUAGES  # noqa: E402
from tests.printed import filled_protocol  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=60)
    rounds = parser.parse_args().rounds
    printed = filled_protocol()
    figures = {}
    for lang in LANGUAGES:
        render_pdf(printed, lang)  # warm: imports, the fonts' first read from disk
        wall, cpu = [], []
        for _ in range(rounds):
            started, started_cpu = time.perf_counter(), time.process_time()
            pdf = render_pdf(printed, lang)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        figures[lang] = {"wall_ms": round(statistics.median(wall), 1),
                         "cpu_ms": round(statistics.median(cpu), 1),
                         "bytes": len(pdf), "pages": pdf.count(b"/Type /Page\n")}
    print(json.dumps({"benchmark": "document", "rounds": rounds, "languages": figures}))
    print(f"{'language':<9} {'wall ms':>8} {'cpu ms':>7} {'KB':>5} {'pages':>5}")
    for lang, figure in figures.items():
        print(f"{lang:<9} {figure['wall_ms']:>8} {figure['cpu_ms']:>7} "
              f"{figure['bytes'] // 1024:>5} {figure['pages']:>5}")


if __name__ == "__main__":
    main()
