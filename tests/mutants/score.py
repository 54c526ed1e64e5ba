"""Each mutated module's score after a mutation run, judged against the equivalent mutants.

``./dev mutants`` runs mutmut (configured in ``pyproject.toml``'s ``[tool.mutmut]``) and then
this, from the repository's root: ``python -m tests.mutants.score``. It reads mutmut's results
under ``mutants/`` and ``tests/mutants/equivalent.md``, the survivors argued equivalent, one
line each::

    - `field_sync.hlc.x_pack__mutmut_3`: `if ms < 0 or not 0 <= counter <= _COUNTER_MASK:` …

The code after the name is the mutated line as mutmut shows it. A listed mutant whose mutated
line is another now (its function changed, and mutmut numbered its mutants anew) is *stale*,
and must be judged again, as must every survivor not listed at all.

The score of a module is killed / (mutants − equivalent); a timeout counts as killed (the
mutant made the tests hang, which they notice). The exit status is 1 when a module scores under
the bar (90 %), or when a survivor is unexplained or stale, so that a run can be judged by it.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mutmut.configuration import config
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files

__all__ = ["BAR", "Judged", "changed_line", "equivalents", "judge", "main"]

BAR = 0.90
"""The score every mutated module must reach."""

EQUIVALENT = Path(__file__).with_name("equivalent.md")
_LISTED = re.compile(r"^- `(?P<name>[^`]+)`: `(?P<change>.*?)` (?:—|--) (?P<why>.+)$")
_DETECTED = {"killed", "timeout"}


@dataclass
class Judged:
    """What a run did to one module's mutants."""

    path: str
    statuses: Counter[str] = field(default_factory=Counter)
    equivalent: list[str] = field(default_factory=list)
    unexplained: list[tuple[str, str, str]] = field(default_factory=list)
    """``(mutant, status, mutated line)`` of each survivor not argued equivalent."""
    stale: list[tuple[str, str, str]] = field(default_factory=list)
    """``(mutant, line argued, line now)`` of each listed mutant whose line changed."""

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def killed(self) -> int:
        return sum(self.statuses[status] for status in _DETECTED)

    @property
    def score(self) -> float:
        judged = self.total - len(self.equivalent)
        return self.killed / judged if judged else 1.0


def changed_line(mutant: str, path: str) -> str:
    """The mutated line(s) of ``mutant``, stripped, as mutmut's diff shows them."""
    diff = get_diff_for_mutant(mutant, path=path).splitlines()
    added = [line[1:].strip() for line in diff if line.startswith("+") and
             not line.startswith("+++")]
    return " ⏎ ".join(added)


def equivalents(text: str) -> dict[str, str]:
    """Mutant name to the mutated line argued equivalent, from ``equivalent.md``'s lines."""
    listed = {}
    for line in text.splitlines():
        found = _LISTED.match(line)
        if found:
            listed[found["name"]] = found["change"]
    return listed


def judge(listed: dict[str, str]) -> tuple[list[Judged], list[str]]:
    """Every mutated module's results, and the listed mutants no run made (or killed now)."""
    modules, seen = [], set()
    for path in walk_mutatable_files():
        results = SourceFileMutationData(path=path)
        results.load()
        judged = Judged(str(path))
        for mutant, exit_code in results.exit_code_by_key.items():
            status = status_by_exit_code[exit_code]
            judged.statuses[status] += 1
            if status in _DETECTED:
                continue
            seen.add(mutant)
            line = changed_line(mutant, str(path))
            if mutant not in listed:
                judged.unexplained.append((mutant, status, line))
            elif listed[mutant] != line:
                judged.stale.append((mutant, listed[mutant], line))
            else:
                judged.equivalent.append(mutant)
        modules.append(judged)
    return modules, sorted(set(listed) - seen)


def main() -> int:
    """Print each module's score and what needs judging; 1 if a module is under the bar."""
    config()  # mutmut's settings, read from pyproject.toml in the working directory
    modules, gone = judge(equivalents(EQUIVALENT.read_text(encoding="utf-8")))
    print(f"{'module':28} {'killed':>6} {'total':>6} {'equiv.':>6} {'score':>7}")
    for module in modules:
        print(f"{module.path:28} {module.killed:6} {module.total:6} {len(module.equivalent):6} "
              f"{module.score:7.1%}")
    failed = False
    for module in modules:
        for mutant, status, line in module.unexplained:
            print(f"unexplained ({status}): {mutant}: {line}")
        for mutant, argued, now in module.stale:
            print(f"stale: {mutant}: argued for `{argued}`, now `{now}`")
        failed |= bool(module.unexplained or module.stale) or module.score < BAR
    for mutant in gone:
        print(f"listed but killed now, or no longer made: {mutant}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
