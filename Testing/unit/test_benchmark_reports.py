"""Every figure a benchmark's report prints comes from its recorded run.

Each ``benchmarks/NAME.py`` with a recorded ``docs/benchmarks/NAME.json`` has a pure ``report(record)`` that formats
the table and notes of its section of ``docs/benchmarks.md``. These tests run each report on its recorded JSON and
check that every number in the table and the notes is a number of that JSON (at the printed precision, or x100 for a
percentage), a figure the module computes from the record (``derived(record)``, which must change when the record
does) or a figure it declares as not measured (``CONSTANTS``: targets, design parameters, published values); and that
``docs/benchmarks.md`` and each JSON's notes are what the report writes today.
"""
from __future__ import annotations

import copy
import json
import random
import re
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import _common  # noqa: E402

NAMES = _common.recorded_benchmarks()
#: a printed number: optional sign, digits, optional decimals; not part of a word (I3D, x0, E_rr) or of a version
NUMBER = re.compile(r"(?<![\w.])([-−+]?)(\d+(?:\.\d+)?)(?=[x×%]?(?!\w))(?!\.\d)")
#: names that hold digits but are no figure: code spans, links, the seeds' names (000, 002), issue / commit numbers
NOT_FIGURES = [re.compile(p) for p in (r"`[^`]*`", r"\]\([^)]*\)", r"(?<![\w.])00\d(?![\w.])", r"(?i)issue \d+",
                                       r"commit [0-9a-f]{7,}", r"Table \d+", r"Sec\. [\d.]+")]
LONG_LIST = 8  #: from a longer list only its length and its first and last element are figures a report may print


@pytest.fixture(scope="module")
def modules() -> dict:
    return {name: _common.load_benchmark(name) for name in NAMES}


def _numbers_in(value, out: list) -> None:
    """Collect the numbers of a JSON value: numeric leaves, numbers written in its strings and keys, list lengths."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        out.append(float(value))
    elif isinstance(value, str):
        out.extend(float(sign.replace("−", "-") + digits) for sign, digits in NUMBER.findall(value))
    elif isinstance(value, dict):
        for k, v in value.items():
            _numbers_in(k, out)
            _numbers_in(v, out)
    elif isinstance(value, (list, tuple)):
        out.append(float(len(value)))
        for v in (value if len(value) <= LONG_LIST else [value[0], value[-1]]):
            _numbers_in(v, out)


def allowed_numbers(record: dict, module) -> np.ndarray:
    """Sorted absolute values a report may print: the record's numbers (not its notes), x100 for percentages, the
    module's derived figures and declared constants."""
    found: list = []
    _numbers_in({k: v for k, v in record.items() if k != "notes"}, found)
    if hasattr(module, "derived"):
        found.extend(float(v) for v in module.derived(record).values())
    _numbers_in(getattr(module, "CONSTANTS", {}), found)
    values = np.abs(np.asarray(found, dtype=float))
    values = values[np.isfinite(values)]
    return np.unique(np.concatenate([values, values * 100.0]))


def printed_numbers(text: str) -> list[str]:
    """The numbers printed in ``text``, without the names that hold digits (:data:`NOT_FIGURES`)."""
    for pattern in NOT_FIGURES:
        text = pattern.sub(" ", text)
    return [sign + digits for sign, digits in NUMBER.findall(text)]


def unexplained(text: str, record: dict, module) -> list[str]:
    """Numbers of ``text`` that match no allowed number at their printed precision."""
    allowed = allowed_numbers(record, module)
    out = []
    for token in printed_numbers(text):
        value = abs(float(token.replace("−", "-")))
        decimals = len(token.split(".")[1]) if "." in token else 0
        tol = 0.5 * 10.0 ** -decimals * (1 + 1e-9) + 1e-12
        i = np.searchsorted(allowed, value - tol)
        if not (i < len(allowed) and allowed[i] <= value + tol):
            out.append(token)
    return out


def test_every_benchmark_script_with_a_record_has_a_report(modules):
    assert {"phantom_speed", "motion", "latent_video", "dense_to_cine", "dense_to_cine_guidance",
            "dense_to_cine_sampler"} <= set(NAMES)
    for name, module in modules.items():
        table, notes = module.report(_common.read_record(name))
        assert table.strip() and isinstance(notes, str), name


@pytest.mark.parametrize("name", NAMES)
def test_every_printed_number_comes_from_the_recorded_run(modules, name):
    record = _common.read_record(name)
    table, notes = modules[name].report(record)
    assert printed_numbers(table + notes), f"{name}: no number found, the check would be empty"
    missing = unexplained(table + "\n" + notes, record, modules[name])
    assert not missing, f"{name}: printed numbers found nowhere in docs/benchmarks/{name}.json: {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_docs_and_json_notes_are_what_the_report_writes(modules, name):
    """``docs/benchmarks.md``'s block and the JSON's notes agree with the report on the recorded JSON (rebuild them
    with ``python benchmarks/_common.py --rewrite NAME``)."""
    record = _common.read_record(name)
    table, notes = modules[name].report(record)
    assert record["notes"] == _common.wrap_notes(notes), f"{name}: JSON notes are stale"
    block = _common.section(record, table)
    assert block in (REPO / "docs" / "benchmarks.md").read_text(), f"{name}: docs/benchmarks.md block is stale"


def _perturbed(value, rng: random.Random):
    """Every number of a JSON value changed: floats scaled by a random factor, integers doubled."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return 2 * value + 1
    if isinstance(value, float):
        return value * rng.uniform(1.1, 1.9) + rng.uniform(0.01, 0.02)
    if isinstance(value, dict):
        return {k: _perturbed(v, rng) for k, v in value.items()}
    return [_perturbed(v, rng) for v in value]


@pytest.mark.parametrize("name", [n for n in NAMES if n in ("motion", "latent_video", "dense_to_cine_guidance")])
def test_derived_figures_are_computed_from_the_record(modules, name):
    module = modules[name]
    record = _common.read_record(name)
    changed = dict(record, metrics=_perturbed(record["metrics"], random.Random(0)))
    before, after = module.derived(record), module.derived(changed)
    assert before
    same = [k for k in before if np.isclose(before[k], after[k])]
    assert not same, f"{name}: derived figures that do not depend on the record: {same}"


def test_a_changed_value_flows_through_the_table_and_the_verdict(modules):
    module = modules["phantom_speed"]
    record = _common.read_record("phantom_speed")
    slow = copy.deepcopy(record)
    slow["metrics"]["median_s"] = 7.8912
    table, notes = module.report(record)
    table2, notes2 = module.report(slow)
    assert "**7.89**" in table2 and "**7.89**" not in table
    assert notes.startswith("Meets") and notes2.startswith("MISSES")
    assert not unexplained(table2 + notes2, slow, module)


def test_motion_notes_follow_the_values(modules):
    module = modules["motion"]
    record = _common.read_record("motion")
    worse = copy.deepcopy(record)
    m = worse["metrics"]
    m["mean"]["demons_epe_mm"] = 0.5
    m["targets"]["ltma_epe_at_or_below_demons"] = False
    _, notes = module.report(worse)
    assert "above demons" in notes and notes.startswith("Shortfall")
    better = copy.deepcopy(record)
    m = better["metrics"]
    m["mean"]["demons_epe_mm"] = 2.5
    m["targets"]["ltma_epe_at_or_below_demons"] = True
    m["targets"]["ltma_at_least_20x_faster_cpu"] = False
    _, notes2 = module.report(better)
    assert "at or below demons (2.50 mm)" in notes2 and "above demons" not in notes2 and "short of" in notes2
    m["targets"]["ltma_at_least_20x_faster_cpu"] = True
    met = module.report(better)[1]
    assert "Shortfall" not in met and "short of" not in met, "notes name a shortfall when every LTMA target is met"
    main_id = list(m["speedup_demons_over_ltma"])[0]
    m["mean"]["demons_rmse_radial"] = m["mean"][main_id + "_rmse_radial"] - 0.01  # the default trails demons here
    assert "still trails demons on voxelwise radial strain RMSE" in module.report(better)[1]
    for key in ("_rmse_radial", "_rmse_circumferential", "_rmse_global_circumferential"):
        m["mean"]["demons" + key] = m["mean"][main_id + key] + 0.01
    for row in ((m.get("foreign") or {}).get("sunnybrook") or {}).get("per_patient", []):
        row["demons_dice"] = 0.0
    derived = module.derived(better)
    if f"sunnybrook_mean_dice_{main_id}" in derived:
        assert derived[f"sunnybrook_mean_dice_{main_id}"] >= derived["sunnybrook_mean_dice_demons"], \
            "the test could not lower demons' Sunnybrook Dice"
    assert module.report(better)[1] == "", "caveats named where the default model beats demons everywhere"


def test_a_typed_in_number_is_caught(modules):
    module = modules["phantom_speed"]
    record = _common.read_record("phantom_speed")
    table, notes = module.report(record)
    assert unexplained(notes + " The ECG takes 0.37 s.", record, module) == ["0.37"]
    # a sentence of the notes typed into dense_to_cine.py before its report computed them: a figure of an earlier run
    old = "DDIM-25 is 41.8× faster than DDPM-1000 (43.2× in the previous run)."
    assert unexplained(old, _common.read_record("dense_to_cine"), modules["dense_to_cine"]) == ["43.2"]


def test_sentences_on_optional_metrics_appear_only_when_recorded(modules):
    optional = ("inception_fid", "inception_kid", "i3d_fvd")

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not any(o in k for o in optional)}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    for name in ("dense_to_cine", "latent_video", "dense_to_cine_guidance", "dense_to_cine_sampler"):
        record = _common.read_record(name)
        _, notes = modules[name].report(record)
        assert "Inception-FID" in notes, name
        bare = dict(record, metrics=strip(record["metrics"]))
        table, notes = modules[name].report(bare)
        assert "Inception" not in notes and "I3D" not in notes, name
        assert not unexplained(table + notes, bare, modules[name])


def test_motion_names_sample_data_outside_the_repositorys_parent(modules, tmp_path, monkeypatch):
    """``$CARDIOGEN_SHARED_DATA`` outside the folder above the repository: the real-DENSE part still runs."""
    from cardiogen.io import sample_data_dir

    source = sample_data_dir() / "dense" / "template.dns"
    if not source.is_file():
        pytest.skip(f"real sample data not found at {source} (set CARDIOGEN_SHARED_DATA)")
    (tmp_path / "dense").mkdir()
    (tmp_path / "dense" / "template.dns").symlink_to(source)
    monkeypatch.setenv("CARDIOGEN_SHARED_DATA", str(tmp_path))
    assert _common.display_path(tmp_path / "dense" / "template.dns") == "$CARDIOGEN_SHARED_DATA/dense/template.dns"
    real = modules["motion"].real_dense()
    assert real["file"] == "$CARDIOGEN_SHARED_DATA/dense/template.dns"
    assert -1.0 < real["peaks"]["circumferential"]["peak"] < 0.0  # shortening; its value is the strain tests' concern


def test_rewrite_changes_only_the_block_and_the_notes(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    (docs / "benchmarks").mkdir(parents=True)
    record = _common.read_record("phantom_speed")
    stale = dict(record, notes="Meets the target in 0.01 s.")
    (docs / "benchmarks" / "phantom_speed.json").write_text(json.dumps(stale, indent=2) + "\n")
    (docs / "benchmarks.md").write_text("# Benchmarks\n\nintro 3 s\n\n<!-- phantom_speed:start -->\nold 9.99\n"
                                        "<!-- phantom_speed:end -->\n\ntail\n")
    monkeypatch.setattr(_common, "DOCS", docs)
    _common.main(["--rewrite", "phantom_speed"])
    written = json.loads((docs / "benchmarks" / "phantom_speed.json").read_text())
    assert {k: v for k, v in written.items() if k != "notes"} == {k: v for k, v in record.items() if k != "notes"}
    assert written["notes"] == record["notes"]
    md = (docs / "benchmarks.md").read_text()
    assert md.startswith("# Benchmarks\n\nintro 3 s\n\n<!-- phantom_speed:start -->")
    assert md.endswith("<!-- phantom_speed:end -->\n\ntail\n")
    assert "9.99" not in md and "**0.45**" in md


def test_a_missing_record_is_named():
    with pytest.raises(FileNotFoundError, match="no_such_benchmark"):
        _common.read_record("no_such_benchmark")


def test_docs_hold_no_figure_outside_the_generated_blocks():
    text = (REPO / "docs" / "benchmarks.md").read_text()
    outside = re.sub(r"<!-- (\w+):start -->.*?<!-- \1:end -->", "", text, flags=re.S)
    assert "<!--" not in outside, "an unmatched block marker in docs/benchmarks.md"
    assert printed_numbers(outside) == [], "docs/benchmarks.md: figures outside the blocks the benchmarks write"
