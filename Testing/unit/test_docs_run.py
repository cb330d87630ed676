"""The documentation runs, and says what happens.

* Every fenced ``python`` block of README.md and docs/**/*.md is executed. Blocks of one file run in order in one
  namespace (a later block may use an earlier one's names), in a temporary working folder whose parent holds
  ``shared/data`` (a link to the sample data), so the documents' relative paths ``../shared/data/...`` resolve.
  Tracebacks name the document and its line. A block is not run only when
  - the line before its fence is ``<!-- docs-test: skip REASON -->`` (the test is skipped with that reason), or
  - it reads ``../shared/data`` and the sample data is absent (skipped, naming where it was looked for).
* Every line of the README's "Command line" list runs on the phantom, in order, in one temporary folder
  (``.venv/bin/cardiogen ARGS`` as ``python -m cardiogen ARGS``, ``torchrun`` beside this interpreter), with ``HOME``
  in the temporary folder so ``~/.cardiogen/models`` is a fresh user registry. Lines too long for a test run with the
  overrides of :data:`OVERRIDES` (each states its reason, and each must still match a line of the list).
* What the README's comments and prose claim about the results (shapes, flags, orderings, thresholds, the disk
  figure) is checked in :data:`README_CLAIMS` and the tests below them.
"""
from __future__ import annotations

import ast
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pytest

from cardiogen.io import sample_data_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = sample_data_dir()  # as Testing/conftest.py: $CARDIOGEN_SHARED_DATA, else ../shared/data
README = REPO_ROOT / "README.md"
DOC_FILES = (README, *sorted((REPO_ROOT / "docs").rglob("*.md")))
SKIP_MARK = re.compile(r"<!--\s*docs-test:\s*skip\b\s*(.*?)\s*-->")
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
SHARED_REF = "../shared/data"
NO_SHARED = f"sample data not found at {SHARED_DATA} (set CARDIOGEN_SHARED_DATA)"


# ------------------------------------------------------------------------------------------------ parsing documents
@dataclass(frozen=True)
class Block:
    """One fenced code block: its document, the 1-based line of its opening fence, language, code, skip reason."""

    path: Path
    line: int
    lang: str
    code: str
    skip: Optional[str] = None

    @property
    def label(self) -> str:
        name = self.path.relative_to(REPO_ROOT) if self.path.is_relative_to(REPO_ROOT) else self.path
        return f"{name}:{self.line}"


def fenced_blocks(path: Path, text: Optional[str] = None) -> list[Block]:
    """Fenced blocks of a Markdown file, in order; a block whose fence follows ``<!-- docs-test: skip R -->`` has
    ``skip`` = R (an empty reason is refused: a skipped block must say why)."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise ValueError(f"{path}:{i + 1}: code fence is never closed")
        mark = SKIP_MARK.search(lines[i - 1]) if i > 0 else None
        if mark is not None and not mark.group(1):
            raise ValueError(f"{path}:{i}: 'docs-test: skip' needs a reason")
        blocks.append(Block(path, i + 1, m.group(1).lower(), "\n".join(lines[i + 1:end]) + "\n",
                            mark.group(1) if mark else None))
        i = end + 1
    return blocks


def python_blocks() -> list[Block]:
    return [b for p in DOC_FILES for b in fenced_blocks(p) if b.lang in ("python", "py")]


def section_blocks(path: Path, heading: str) -> list[Block]:
    """The fenced blocks under the Markdown heading ``heading`` (up to the next heading of any level)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next((i for i, s in enumerate(lines) if s.strip() == heading), None)
    if start is None:
        raise AssertionError(f"{path.name} has no heading {heading!r}")
    stop = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return [b for b in fenced_blocks(path, text) if start < b.line - 1 < stop]


def command_lines(block: Block) -> list[tuple[int, str]]:
    """(document line, command) of each command in a shell block; backslash continuations joined, comments kept."""
    out, pending, first = [], "", 0
    for k, raw in enumerate(block.code.splitlines()):
        if not raw.strip() and not pending:
            continue
        if not pending:
            first = block.line + 1 + k
        part = raw.strip() if pending else raw.rstrip()
        if part.endswith("\\"):
            pending += part[:-1].rstrip() + " "
            continue
        out.append((first, pending + part))
        pending = ""
    return out


# ----------------------------------------------------------------------------------------- a document's workspace
@pytest.fixture(scope="module")
def docs_root(tmp_path_factory) -> Path:
    """Temporary root holding ``shared/data`` (a link to the sample data when present), a HOME, and work folders."""
    root = tmp_path_factory.mktemp("docs")
    (root / "shared").mkdir()
    if SHARED_DATA.is_dir():
        (root / "shared" / "data").symlink_to(SHARED_DATA.resolve(), target_is_directory=True)
    (root / "home").mkdir()
    return root


def _doc_env(root: Path) -> dict:
    """Environment of the documented commands: HOME (and the user registry) inside ``root``, one thread each."""
    env = {k: v for k, v in os.environ.items() if k not in ("CARDIOGEN_USER_MODELS", "CARDIOGEN_MODELS")}
    env.update(HOME=str(root / "home"), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, (str(REPO_ROOT / "CardioGenLogic"),
                                                       env.get("PYTHONPATH")))))
    return env


class _inside:
    """Context: current folder ``cwd`` and ``CARDIOGEN_USER_MODELS`` an empty registry (the user's own weights must
    not change what the documents show)."""

    def __init__(self, cwd: Path, user_models: Path) -> None:
        self.cwd, self.user_models = cwd, user_models

    def __enter__(self) -> None:
        self.old_cwd, self.old_env = os.getcwd(), os.environ.get("CARDIOGEN_USER_MODELS")
        os.chdir(self.cwd)
        os.environ["CARDIOGEN_USER_MODELS"] = str(self.user_models)

    def __exit__(self, *exc: Any) -> None:
        os.chdir(self.old_cwd)
        if self.old_env is None:
            os.environ.pop("CARDIOGEN_USER_MODELS", None)
        else:
            os.environ["CARDIOGEN_USER_MODELS"] = self.old_env


@dataclass
class Outcome:
    status: str  # "ok", "skipped", "failed"
    message: str = ""


@dataclass
class DocRun:
    """Runs one document's python blocks in order in one namespace; records each top-level expression's value under
    its source text (as a console would show it), so claims can refer to what the README prints."""

    blocks: list[Block]
    workdir: Path
    user_models: Path
    namespace: dict = field(default_factory=lambda: {"__name__": "__docs__"})
    values: dict = field(default_factory=dict)
    outcomes: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)  # block index -> (names, expression values) right after it ran

    def run_through(self, index: int) -> Outcome:
        for j in range(index + 1):
            if j not in self.outcomes:
                self.outcomes[j] = self._run(j)
                self.snapshots[j] = (dict(self.namespace), dict(self.values))
        return self.outcomes[index]

    def _run(self, j: int) -> Outcome:
        block = self.blocks[j]
        if block.skip:
            return Outcome("skipped", f"{block.label}: {block.skip}")
        if SHARED_REF in block.code and not SHARED_DATA.is_dir():
            return Outcome("skipped", f"{block.label} reads {SHARED_REF}: {NO_SHARED}")
        failed = [self.blocks[i].label for i, o in self.outcomes.items() if o.status == "failed"]
        if failed:
            return Outcome("failed", f"{block.label} not run: an earlier block failed ({', '.join(failed)})")
        source = "\n" * block.line + block.code  # line numbers of the document in tracebacks
        filename = str(block.path)
        try:
            tree = ast.parse(source, filename)
            with _inside(self.workdir, self.user_models):
                for stmt in tree.body:
                    if isinstance(stmt, ast.Expr):
                        value = eval(compile(ast.Expression(stmt.value), filename, "eval"), self.namespace)
                        self.values[ast.get_source_segment(source, stmt)] = value
                    else:
                        exec(compile(ast.Module([stmt], type_ignores=[]), filename, "exec"), self.namespace)
        except Exception:  # noqa: BLE001 - any failure of a documented block is reported with its traceback
            return Outcome("failed", f"{block.label} failed:\n{traceback.format_exc(limit=-6)}")
        return Outcome("ok")


@pytest.fixture(scope="module")
def doc_runs(docs_root) -> dict:
    runs = {}
    for k, path in enumerate(DOC_FILES):
        work = docs_root / f"work_{k}_{path.stem}"
        work.mkdir()
        blocks = [b for b in python_blocks() if b.path == path]
        runs[path] = DocRun(blocks, work, docs_root / "home" / "no_user_models")
    return runs


def _require(run: DocRun, block: Block) -> None:
    outcome = run.run_through(run.blocks.index(block))
    if outcome.status == "skipped":
        pytest.skip(outcome.message)
    if outcome.status == "failed":
        pytest.fail(outcome.message, pytrace=False)


# --------------------------------------------------------------------------------------------------- fast tests
def test_parser_finds_blocks_skip_reasons_and_sections(tmp_path):
    text = ("# T\n\n## A\n\n```python\nx = 1\n```\n\n<!-- docs-test: skip needs a GPU -->\n```python\ny = 2\n```\n"
            "## Command line\n\n```bash\ncmd a \\\n    --b c   # note\n\ncmd d\n```\n")
    path = tmp_path / "doc.md"
    path.write_text(text)
    blocks = fenced_blocks(path)
    assert [(b.line, b.lang, b.skip) for b in blocks] == [(5, "python", None), (10, "python", "needs a GPU"),
                                                           (15, "bash", None)]
    assert blocks[0].code == "x = 1\n"
    cli = section_blocks(path, "## Command line")
    assert cli == [blocks[2]]
    assert command_lines(cli[0]) == [(16, "cmd a --b c   # note"), (19, "cmd d")]
    path.write_text("<!-- docs-test: skip -->\n```python\nz = 3\n```\n")
    with pytest.raises(ValueError, match="needs a reason"):
        fenced_blocks(path)
    path.write_text("```python\nz = 3\n")
    with pytest.raises(ValueError, match="never closed"):
        fenced_blocks(path)


def test_a_failing_block_is_reported_with_its_document_line_and_stops_the_rest(tmp_path):
    path = tmp_path / "doc.md"
    path.write_text("```python\na = 1\n```\n\n```python\nb = a + 1\nraise RuntimeError('boom')\n```\n\n"
                    "```python\nc = 3\n```\n")
    run = DocRun(fenced_blocks(path), tmp_path, tmp_path / "models")
    assert run.run_through(0).status == "ok"
    second = run.run_through(1)
    assert second.status == "failed" and f'File "{path}", line 7' in second.message and "boom" in second.message
    assert run.namespace["b"] == 2
    third = run.run_through(2)
    assert third.status == "failed" and "earlier block failed" in third.message and "c" not in run.namespace


def test_every_python_block_is_found():
    """The README's examples are python blocks (a typo in a fence language would silently drop one from the test)."""
    fences = [b for p in DOC_FILES for b in fenced_blocks(p)]
    assert {b.lang for b in fences} <= {"python", "bash", ""}, sorted({b.lang for b in fences})
    assert len([b for b in python_blocks() if b.path == README]) >= 3


def test_links_and_the_extension_screenshot_point_at_files_that_exist():
    """Relative links and images of the documents, and CMakeLists.txt's EXTENSION_SCREENSHOTURLS, name real files."""
    broken = []
    for path in DOC_FILES:
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:|#", target):
                continue
            if not (path.parent / target.split("#")[0]).exists():
                broken.append(f"{path.relative_to(REPO_ROOT)}: {target}")
    cmake = (REPO_ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    for url in re.search(r'EXTENSION_SCREENSHOTURLS "([^"]*)"', cmake).group(1).split():
        local = url.split("/main/", 1)[-1]
        if not (REPO_ROOT / local).is_file():
            broken.append(f"CMakeLists.txt: {url}")
    assert not broken, broken


# --------------------------------------------------------------------------------------------- the python blocks
@pytest.mark.slow
@pytest.mark.parametrize("block", python_blocks(), ids=lambda b: b.label)
def test_python_block_runs(block, doc_runs):
    _require(doc_runs[block.path], block)


@dataclass(frozen=True)
class Claim:
    """What a README block's comments say: ``block`` is a snippet of the block; ``check(values, namespace)``."""

    block: str
    says: str
    check: Callable[[dict, dict], None]


def _value(values: dict, expr: str) -> Any:
    if expr not in values:
        raise AssertionError(f"README no longer shows the expression {expr!r}: update README_CLAIMS")
    return values[expr]


def _phantom_case(values: dict, ns: dict) -> None:
    from cardiogen.data import Segmentation

    case = ns["case"]
    assert case.cine.array.ndim == 4 and case.cine.array.dtype == np.float32
    masks = _value(values, "case.truth.masks")
    assert isinstance(masks, Segmentation) and masks.labels.shape == case.cine.array.shape
    names = {info.name for info in masks.label_table.values()}
    assert {"LV blood pool", "LV myocardium", "RV blood pool", "RV myocardium"} <= names
    assert _value(values, 'case.truth.strain.peak("circumferential")') < 0
    myo = ns["myo"]
    assert myo.dtype == bool and myo.shape == case.cine.spatial_shape and myo.any()


def _peaks(values: dict, ns: dict) -> None:
    peaks = _value(values, "peak_values(strain)")
    assert set(peaks) == {"radial", "circumferential"}
    for p in peaks.values():
        assert set(p) == {"peak", "time_ms", "frame"}
    assert peaks["circumferential"]["peak"] < 0 < peaks["radial"]["peak"]
    dense = _value(values, "peak_values(dense_strain(case.dense))")
    assert dense["circumferential"]["peak"] < 0 < dense["radial"]["peak"]


def _measure_table(values: dict, ns: dict) -> None:
    from cardiogen.measure import measure_segmentation

    table = measure_segmentation(ns["case"].truth.masks).format_table()
    for row in ("LV EDV", "LV ESV", "LV EF", "LV mass"):
        assert row in table


def _sample_data(values: dict, ns: dict) -> None:
    from cardiogen.data import DenseSeries, Ecg, ImageSeries

    assert isinstance(ns["cine"], ImageSeries) and isinstance(ns["dense"], DenseSeries)
    assert isinstance(ns["ecg"], Ecg) and len(ns["ecg"].lead_names) == 12
    peaks = _value(values, 'peak_values(dense_strain(dense, "auto"))')
    assert peaks["circumferential"]["peak"] < 0 < peaks["radial"]["peak"]


def _coherence(values: dict, ns: dict) -> None:
    """Prose: the workspace's stored ROI reads under LOW_COHERENCE (0.65), the wall found on its images above it."""
    from cardiogen.motion.dense import dense_frame_masks
    from cardiogen.motion.dense_mask import LOW_COHERENCE, mask_phase_coherence

    text = README.read_text(encoding="utf-8")
    assert f"{LOW_COHERENCE:g} (`LOW_COHERENCE`)" in text
    stored = mask_phase_coherence(ns["dense"], dense_frame_masks(ns["dense"]))
    found = mask_phase_coherence(ns["dense"], dense_frame_masks(ns["dense"], "auto"))
    assert stored < LOW_COHERENCE < found, (stored, found)


def _latent(values: dict, ns: dict) -> None:
    cine = ns["cine"]
    assert _value(values, "cine.synthetic, cine.description") == (True, "SYNTHETIC Latent video (GANcMRI f2f) "
                                                                         "sample 1")
    areas = _value(values, '{c: round(m["lv_area"], 1) for c, (frame, m) in sweep.items()}')
    assert list(areas) == [-2, 0, 3] and areas[-2] < areas[0] < areas[3], areas
    assert cine.n_frames == 50
    lax, finer, proj = ns["lax"], ns["finer"], ns["proj"]
    assert finer.n_frames == 2 * lax.n_frames - 1 == 49
    assert tuple(proj.ws.shape[:1]) == (lax.n_frames,) and proj.ws.ndim == 3 and len(proj.pixel_mse) == lax.n_frames
    assert tuple(ns["video"].shape) == (1, 50, 64, 64)


def _generator_fov(values: dict, ns: dict) -> None:
    """Prose: gancmri-phantom-64 knows 64x64 frames, 2.8 mm pixels, a 179 mm field of view."""
    from cardiogen.weights import Registry

    cfg = Registry().get("gancmri-phantom-64").config
    assert cfg["model"]["resolution"] == 64 and cfg["data"]["pixel_mm"] == 2.8
    assert f"{64 * 2.8:.0f} mm field of view" in README.read_text(encoding="utf-8")


def _quality_threshold(values: dict, ns: dict) -> None:
    """Prose: dense_to_cine warns about a sample with under half of its frames clean or showing an LV."""
    from cardiogen.pipelines.dense_to_cine import QUALITY_MIN_CLEAN

    assert QUALITY_MIN_CLEAN == 0.5


README_CLAIMS = (
    Claim("make_case(PhantomConfig(seed=1", "phantom case: shapes, true masks, true strain sign", _phantom_case),
    Claim("make_case(PhantomConfig(seed=1", "measure_segmentation's table has EDV, ESV, EF, LV mass", _measure_table),
    Claim("register_learned(case.cine)", "peak_values: keys, signs; the DENSE path", _peaks),
    Claim("cine_sunnybrook/SCD0000101", "sample data loads into the containers; auto DENSE strain", _sample_data),
    Claim("cine_sunnybrook/SCD0000101", "stored ROI under LOW_COHERENCE, found wall above", _coherence),
    Claim("cine_sunnybrook/SCD0000101", "quality warning threshold: under half", _quality_threshold),
    Claim("latent_video.generate(", "synthetic flag, description, slider sweep, TSR frames, shapes", _latent),
    Claim("latent_video.generate(", "the shipped generator's grid and field of view", _generator_fov),
)


@pytest.mark.slow
@pytest.mark.parametrize("claim", README_CLAIMS, ids=lambda c: c.says)
def test_readme_comments_hold(claim, doc_runs):
    run = doc_runs[README]
    block = next((b for b in run.blocks if claim.block in b.code), None)
    assert block is not None, f"no README python block holds {claim.block!r} any more: update README_CLAIMS"
    _require(run, block)
    names, values = run.snapshots[run.blocks.index(block)]  # as the block left them (later blocks reuse names)
    claim.check(values, names)


# ------------------------------------------------------------------------------------------- the command list
@dataclass(frozen=True)
class Override:
    """A README command that a test cannot afford as written: ``match`` (its first arguments after the program),
    ``apply(argv) -> argv`` and why."""

    match: tuple[str, ...]
    apply: Callable[[list[str]], list[str]]
    reason: str


def _swap(old: str, new: str) -> Callable[[list[str]], list[str]]:
    def apply(argv: list[str]) -> list[str]:
        assert old in argv, f"override expects {old!r} in {argv}"
        return [new if a == old else a for a in argv]
    return apply


def _chain(*fns: Callable[[list[str]], list[str]]) -> Callable[[list[str]], list[str]]:
    def apply(argv: list[str]) -> list[str]:
        for fn in fns:
            argv = fn(argv)
        return argv
    return apply


def _option(name: str, value: str) -> Callable[[list[str]], list[str]]:
    def apply(argv: list[str]) -> list[str]:
        assert name in argv[:-1], f"override expects {name} in {argv}"
        i = argv.index(name)
        return argv[:i + 1] + [value] + argv[i + 2:]
    return apply


def _append(*extra: str) -> Callable[[list[str]], list[str]]:
    return lambda argv: argv + list(extra)


OVERRIDES = (
    Override(("cardiogen", "train", "ltma"), _swap("ltma_phantom.yaml", "ltma_tiny.yaml"),
             "ltma_phantom.yaml trains 3000 steps; ltma_tiny.yaml runs the same code for 4 steps"),
    Override(("torchrun",), _chain(_swap("ltma_phantom.yaml", "ltma_tiny.yaml"), _option("--nproc_per_node", "2")),
             "two CPU processes (Gloo) of the 4-step config instead of four GPUs"),
    Override(("cardiogen", "train", "stylegan2"), _swap("stylegan2_phantom.yaml", "stylegan2_tiny.yaml"),
             "stylegan2_phantom.yaml trains 12000 steps; stylegan2_tiny.yaml runs the same code for 4 steps"),
    Override(("cardiogen", "train", "ct_flow"), _swap("ct_flow_phantom.yaml", "ct_flow_tiny.yaml"),
             "ct_flow_phantom.yaml trains 1500 steps on 48^3 pairs; ct_flow_tiny.yaml runs the same code for 4 steps"),
    Override(("cardiogen", "latent", "project"), _append("--steps", "20"),
             "150 projection steps of the first frame take about 50 s on one core; 20 run the same code"),
    Override(("cardiogen", "latent", "fit"),
             _append("--videos", "2", "--frames", "8", "--steps", "2", "--phenotype-samples", "64",
                     "--projected-ed", "0"),
             "2 training videos and 64 samples instead of 16 and 4000 (the full fit takes hours on CPU); it fits "
             "the shipped generator, as the 4-step generator of the line before does not vary in every phenotype"),
)


def _readme_commands() -> list[tuple[int, str]]:
    blocks = section_blocks(README, "## Command line")
    assert blocks and blocks[0].lang == "bash", "README's 'Command line' section has no bash block"
    return command_lines(blocks[0])


def _program(argv: list[str]) -> list[str]:
    """The command's program as this test runs it."""
    if argv[0].endswith("bin/cardiogen") or argv[0] == "cardiogen":
        return [sys.executable, "-m", "cardiogen"]
    if argv[0] == "torchrun":
        torchrun = Path(sys.executable).with_name("torchrun")
        path = str(torchrun) if torchrun.exists() else shutil.which("torchrun")
        if path is None:
            pytest.skip("torchrun not installed")
        return [path]
    raise AssertionError(f"README command list: unknown program {argv[0]!r}")


def _key(argv: list[str]) -> tuple[str, ...]:
    name = "cardiogen" if argv[0].endswith("cardiogen") else argv[0]
    return (name, *argv[1:])


def plan(command: str, home: Path) -> tuple[list[str], Optional[Override]]:
    """The README command as argv (``~`` expanded to ``home``), with its override applied (or None)."""
    argv = [str(home) + a[1:] if a.startswith("~/") else a for a in shlex.split(command, comments=True)]
    override = next((o for o in OVERRIDES if _key(argv)[:len(o.match)] == o.match), None)
    if override is not None:
        argv = override.apply(argv)
    return argv, override


def test_every_override_matches_a_readme_command(tmp_path):
    used = [plan(cmd, tmp_path)[1] for _, cmd in _readme_commands()]
    assert all(o in used for o in OVERRIDES), [o.match for o in OVERRIDES if o not in used]
    for _, cmd in _readme_commands():
        argv, _ = plan(cmd, tmp_path)
        _program(argv)  # every program is one the test knows


@dataclass
class CliRun:
    commands: list[tuple[int, str]]
    root: Path
    outcomes: dict = field(default_factory=dict)

    def run_through(self, index: int) -> Outcome:
        for j in range(index + 1):
            if j not in self.outcomes:
                self.outcomes[j] = self._run(j)
        return self.outcomes[index]

    def _run(self, j: int) -> Outcome:
        line, command = self.commands[j]
        where = f"README.md:{line}"
        if SHARED_REF in command and not SHARED_DATA.is_dir():
            return Outcome("skipped", f"{where} reads {SHARED_REF}: {NO_SHARED}")
        failed = [self.commands[i][0] for i, o in self.outcomes.items() if o.status == "failed"]
        if failed:
            return Outcome("failed", f"{where} not run: an earlier line failed (README.md:{failed})")
        argv, override = plan(command, self.root / "home")
        full = _program(argv) + argv[1:]
        proc = subprocess.run(full, cwd=self.root / "cli", env=_doc_env(self.root), capture_output=True,
                              text=True, timeout=600)
        note = f" (run as {shlex.join(argv)}: {override.reason})" if override else ""
        if proc.returncode != 0:
            return Outcome("failed", f"{where}: `{command.split('#')[0].strip()}` exited {proc.returncode}{note}\n"
                                     f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        outs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--out"]
        missing = [o for o in outs if not (self.root / "cli" / o).exists()]
        if missing:
            return Outcome("failed", f"{where}: exited 0 but wrote no {missing}{note}")
        return Outcome("ok", note)


@pytest.fixture(scope="module")
def cli_run(docs_root) -> CliRun:
    (docs_root / "cli").mkdir()
    return CliRun(_readme_commands(), docs_root)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_readme_commands())),
                         ids=[f"README.md:{line}" for line, _ in _readme_commands()])
def test_readme_command_runs(index, cli_run):
    outcome = cli_run.run_through(index)
    if outcome.status == "skipped":
        pytest.skip(outcome.message)
    if outcome.status == "failed":
        pytest.fail(outcome.message, pytrace=False)


# -------------------------------------------------------------------------------------------------- disk figure
def _tree_bytes(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            total += st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size
    return total


@pytest.mark.slow
def test_readme_disk_figure_matches_the_test_setup():
    """README: 'about N GB of disk for .venv with the test tools' -- the .venv that scripts/setup.sh --dev made."""
    venv = REPO_ROOT / ".venv"
    stamp = venv / ".cardiogen-setup-stamp"
    if platform.system() != "Linux":
        pytest.skip("the README's disk figure is measured on Linux")
    if Path(sys.prefix).resolve() != venv.resolve() or not stamp.is_file() or \
            not stamp.read_text().strip().endswith("-1"):
        pytest.skip("not running in the repository's .venv made by scripts/setup.sh --dev")
    m = re.search(r"about (\d+(?:\.\d+)?) GB of disk for `\.venv`\s+with\s+the\s+test\s+tools", README.read_text())
    assert m, "README no longer states the disk size of the test set-up in the expected words"
    stated = float(m.group(1))
    measured = _tree_bytes(venv) / 2**30
    assert abs(measured - stated) <= 0.15 * stated, f"README says {stated} GB, .venv measures {measured:.2f} GB"
