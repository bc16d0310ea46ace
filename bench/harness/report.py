"""Figures with targets and baseline ratios: one table on stdout, one JSON file in bench/results/."""

from __future__ import annotations

import json
import math
import operator
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from bench.harness import env

RESULTS = env.ROOT / "bench" / "results"

_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge}


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: tuple[str, float] | None = None  # ("<=", 15.0)
    baseline: float | None = None  # the same figure for the conventional design

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        op, threshold = self.target
        return "PASS" if _OPS[op](self.value, threshold) else "MISS"

    @property
    def ratio(self) -> float | None:
        """ragcore / baseline."""
        if self.baseline is None or not self.baseline or math.isnan(self.baseline):
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict or None, "ratio": self.ratio}


@dataclass
class Report:
    name: str  # the results file's stem
    title: str
    command: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=env.machine)

    def add(self, *figures: Figure) -> None:
        self.figures.extend(figures)

    def table(self) -> str:
        rows = [("figure", "ragcore", "target", "", "baseline", "ragcore/baseline")]
        for f in self.figures:
            target = f"{f.target[0]} {_num(f.target[1])} {f.unit}" if f.target else ""
            rows.append((
                f.name, f"{_num(f.value)} {f.unit}", target, f.verdict,
                f"{_num(f.baseline)} {f.unit}" if f.baseline is not None else "",
                f"{f.ratio:.2f}" if f.ratio is not None else "",
            ))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                 for row in rows]
        lines.insert(1, "-" * len(lines[0]))
        m = self.machine
        head = (f"{self.title}\n{m['nproc']} CPUs ({m['cpu_model']}), load average at start "
                f"{' '.join(map(str, m['loadavg_at_start']))}, at end {' '.join(f'{x:.2f}' for x in env.load())}\n"
                f"command: {self.command}\n")
        return head + "\n".join(lines)

    def write(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        self.machine["loadavg_at_end"] = [round(x, 2) for x in env.load()]
        payload = {"title": self.title, "command": self.command, "machine": self.machine,
                   "figures": [f.as_dict() for f in self.figures], "details": self.details}
        path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
        return path

    def finish(self) -> None:
        print()
        print(self.table())
        print(f"\nwritten: {self.write().relative_to(env.ROOT)}")
        sys.stdout.flush()


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)
