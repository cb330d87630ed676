"""Shared plumbing for benchmarks: machine facts, the JSON record and the table in docs/benchmarks.md.

Each benchmark ``benchmarks/NAME.py`` has a pure ``report(record) -> (table_md, notes)`` that formats every figure
of its section from the JSON record's values, and calls :func:`write_result` once with its metrics and that function;
the JSON (notes included) goes to ``docs/benchmarks/NAME.json`` and the section replaces the block between
``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in ``docs/benchmarks.md`` (appended when absent).

A recorded run's section is rebuilt without rerunning it (after a change of its ``report``)::

    python benchmarks/_common.py --rewrite NAME [NAME ...]     # or --rewrite all

which rewrites the block of ``docs/benchmarks.md`` and the JSON's ``notes`` (nothing else of the JSON).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import os
import platform
import shlex
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

Report = Callable[[dict], "tuple[str, str]"]  #: a benchmark's report: record -> (table markdown, notes)

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


def display_path(path: Path | str) -> str:
    """How a data file is named in a record: relative to the folder above the repository (``shared/data/...``) when
    it lies there, else relative to the sample data folder (``$CARDIOGEN_SHARED_DATA/...``), else as given."""
    path = Path(os.path.abspath(path))  # symbolic links kept: the path as the user gave it
    try:
        return path.relative_to(os.path.abspath(REPO.parent)).as_posix()
    except ValueError:
        pass
    try:
        from cardiogen.io import sample_data_dir

        return "$CARDIOGEN_SHARED_DATA/" + path.relative_to(os.path.abspath(sample_data_dir())).as_posix()
    except (ImportError, ValueError):
        return str(path)


def wrap_notes(notes: str, width: int = 120) -> str:
    """``notes`` with each paragraph and each "- " bullet wrapped to ``width`` characters (bullets' following lines
    indented by two spaces), the words unchanged."""
    out = []
    for line in notes.strip().splitlines():
        if not line.strip():
            out.append("")
        elif line.startswith("- "):
            out.append(textwrap.fill(line[2:], width, initial_indent="- ", subsequent_indent="  ",
                                     break_long_words=False, break_on_hyphens=False))
        else:
            out.append(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False))
    return "\n".join(out)


def and_join(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def command_line(name: str) -> str:
    """How this run of ``benchmarks/NAME.py`` was started, as the record's ``command`` (arguments shell-quoted)."""
    return " ".join(shlex.quote(a) for a in ["python", f"benchmarks/{name}.py", *sys.argv[1:]])


def write_result(name: str, *, command: str, metrics: dict[str, Any], report: Report) -> Path:
    """Write ``docs/benchmarks/NAME.json`` (with the notes ``report`` formats from it) and NAME's section of
    ``docs/benchmarks.md``; returns the JSON's path."""
    (DOCS / "benchmarks").mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": name,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine(),
        "metrics": json.loads(json.dumps(metrics, default=float)),  # what the JSON will hold, for the report
        "notes": "",
    }
    table_md, notes = report(record)
    record["notes"] = wrap_notes(notes)
    path = DOCS / "benchmarks" / f"{name}.json"
    path.write_text(json.dumps(record, indent=2, default=float) + "\n")
    update_markdown(name, section(record, table_md))
    return path


def section(record: dict, table_md: str) -> str:
    """The markdown block of one benchmark: heading, command, date and machine from ``record``, then the table and the
    record's notes, between the block's start and end markers."""
    name, m = record["benchmark"], record["machine"]
    notes = record.get("notes", "")
    return (f"<!-- {name}:start -->\n## {name}\n\n`{record['command']}` — {record['date']} — {m['cpu']} "
            f"({m['cpu_count']} cores), Python {m['python']}{', GPU ' + m['gpu'] if 'gpu' in m else ''}\n\n"
            f"{table_md.strip()}\n" + (f"\n{notes.strip()}\n" if notes.strip() else "") + f"<!-- {name}:end -->")


def update_markdown(name: str, block: str, md: Path | None = None) -> None:
    """Replace NAME's block of ``docs/benchmarks.md`` (``md``) by ``block``, or append it when absent."""
    md = md or DOCS / "benchmarks.md"
    text = md.read_text() if md.exists() else ("# Benchmarks\n\nEach section is written by `benchmarks/NAME.py`; "
                                               "the raw numbers are in `docs/benchmarks/NAME.json`.\n")
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    md.write_text(text)


def load_benchmark(name: str):
    """The module ``benchmarks/NAME.py`` (imported under ``_bench_NAME``; importing a benchmark starts no
    computation and needs no optional package)."""
    path = Path(__file__).resolve().parent / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such benchmark")
    for folder in (str(path.parent), str(REPO / "CardioGenLogic")):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "report", None)):
        raise AttributeError(f"{path}: has no report(record) function")
    return module


def read_record(name: str) -> dict:
    """The recorded run ``docs/benchmarks/NAME.json``."""
    path = DOCS / "benchmarks" / f"{name}.json"
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no recorded run of benchmark {name!r}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    for key in ("benchmark", "date", "command", "machine", "metrics"):
        if key not in record:
            raise ValueError(f"{path}: record lacks {key!r}")
    return record


def recorded_benchmarks() -> list[str]:
    """Names of the benchmarks with a script and a recorded JSON."""
    here = Path(__file__).resolve().parent
    return sorted(p.stem for p in (DOCS / "benchmarks").glob("*.json") if (here / f"{p.stem}.py").is_file())


def rewrite(name: str) -> None:
    """Rebuild NAME's section of ``docs/benchmarks.md`` and the JSON's ``notes`` from the recorded JSON with the
    benchmark's current ``report``; no other value of the JSON changes."""
    record = read_record(name)
    table_md, notes = load_benchmark(name).report(record)
    record["notes"] = wrap_notes(notes)
    (DOCS / "benchmarks" / f"{name}.json").write_text(json.dumps(record, indent=2, default=float) + "\n")
    update_markdown(name, section(record, table_md))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rebuild benchmark sections of docs/benchmarks.md from their JSON.")
    parser.add_argument("--rewrite", nargs="+", required=True, metavar="NAME",
                        help="benchmarks to rebuild ('all': every benchmark with a recorded JSON)")
    args = parser.parse_args(argv)
    names = recorded_benchmarks() if args.rewrite == ["all"] else args.rewrite
    for name in names:
        rewrite(name)
        print(f"rewrote {name}: docs/benchmarks.md block and docs/benchmarks/{name}.json notes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
