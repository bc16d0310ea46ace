"""Unzipped size of each `sam build` artifact and what takes the room, as a table.

    make sam-build && .venv/bin/python bench/artifact_sizes.py [.aws-sam/build]

Lambda's limit is 250 MB unzipped for a function plus all its layers.
"""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT_MB = 250


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files) / 1024 / 1024


def main(build: Path) -> None:
    layer = build / "RagcoreLayer"
    print(f"{'artifact':<28}{'MB':>8}")
    for name in ("RagcoreLayer", "ApiFunction", "WorkerFunction"):
        print(f"{name:<28}{size_mb(build / name):>8.1f}")
    for name in ("ApiFunction", "WorkerFunction"):
        total = size_mb(layer) + size_mb(build / name)
        print(f"{name + ' + layer':<28}{total:>8.1f}   ({LIMIT_MB - total:.0f} MB under the limit)")
    print(f"\n{'largest in the layer':<44}{'MB':>8}")
    model = layer / "python/ragcore/models/all-MiniLM-L6-v2"
    parts = {"ragcore (code)": size_mb(layer / "python/ragcore") - size_mb(model),
             "ragcore/models (ONNX MiniLM)": size_mb(model)}
    for entry in (layer / "python").iterdir():
        if entry.name != "ragcore" and not entry.name.endswith(".dist-info"):
            parts[entry.name] = size_mb(entry)
    for name, mb in sorted(parts.items(), key=lambda kv: -kv[1])[:12]:
        print(f"{name:<44}{mb:>8.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build"))
