"""Shared plumbing for benchmarks: machine facts, the JSON record and the table in docs/benchmarks.md.

Each benchmark ``benchmarks/NAME.py`` calls :func:`write_result` once with its metrics and a markdown table;
the JSON goes to ``docs/benchmarks/NAME.json`` and the table replaces the block between
``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in ``docs/benchmarks.md`` (appended when absent).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def machine() -> dict[str, Any]:
    """Where the benchmark ran: OS, CPU model, cores, memory, Python, numpy/torch versions, GPU if any."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gb": mem_gb,
        "python": sys.version.split()[0],
    }
    try:
        import numpy

        info["numpy"] = numpy.__version__
    except ImportError:  # pragma: no cover
        pass
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_result(name: str, *, command: str, metrics: dict[str, Any], table_md: str, notes: str = "") -> Path:
    """Write ``docs/benchmarks/NAME.json`` and update NAME's table in ``docs/benchmarks.md``."""
    (DOCS / "benchmarks").mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": name,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine(),
        "metrics": metrics,
        "notes": notes,
    }
    path = DOCS / "benchmarks" / f"{name}.json"
    path.write_text(json.dumps(record, indent=2, default=float) + "\n")
    md = DOCS / "benchmarks.md"
    text = md.read_text() if md.exists() else "# Benchmarks\n\nEach section is written by `benchmarks/NAME.py`; the raw numbers are in `docs/benchmarks/NAME.json`.\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    m = record["machine"]
    block = (f"{start}\n## {name}\n\n`{command}` — {record['date']} — {m['cpu']} ({m['cpu_count']} cores), "
             f"Python {m['python']}{', GPU ' + m['gpu'] if 'gpu' in m else ''}\n\n{table_md.strip()}\n"
             + (f"\n{notes.strip()}\n" if notes else "") + f"{end}")
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    md.write_text(text)
    return path
