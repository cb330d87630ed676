"""Seeded fuzz test of every reader on mutated copies of the real sample files.

For each reader, >= 200 mutated inputs (bit flips, byte overwrites, truncation, inserted random bytes, header-text
edits such as changed numbers in NRRD / WFDB / CSV headers, NIfTI header field edits) are written to ``tmp_path``.
The reader must either return a valid container or raise :class:`CardioGenInputError` whose message names the
file; any other exception, a hang (> 20 s) or an out-of-memory guard message counts as a failure. Outcome counts
are printed and written to ``Testing/_artifacts/fuzz_counts.json`` (merged per reader).

Large samples are subsampled (WFDB: first 10 s of record 100; CSV ECG: first 1 s of the 12-lead DICOM ECG) and the
whole file stays within about 90 s on one core. Readers owned by modules that are not present are skipped.
"""
from __future__ import annotations

import contextlib
import gzip
import importlib
import json
import re
import resource
import signal
import struct
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from cardiogen.data import DenseSeries, DisplacementSeries, Ecg, Geometry, ImageSeries, Segmentation
from cardiogen.errors import CardioGenInputError

pytestmark = [pytest.mark.realdata, pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::RuntimeWarning")]

SEED = 20250601
N_MUTATIONS = 200  # minimum per reader
N_SMALL = 400  # readers of small files (NRRD, DICOM, WFDB, CSV) get more: they take milliseconds each
N_DENSE = 600  # scipy's compiled MAT reader can crash on corrupt input: fuzz the guard in front of it harder
TIMEOUT_S = 20
MEMORY_HEADROOM = 6 * 1024**3
COUNTS_FILE = Path(__file__).resolve().parents[1] / "_artifacts" / "fuzz_counts.json"

_REPLACEMENT_NUMBERS = ["0", "-1", "1", "2", "3", "7", "-7", "65536", "2147483648", "99999999999", "1e308", "-1e308",
                        "nan", "inf", "-inf", "0.0000001", "abc", "", "1.5", "4294967295", "-2147483649"]
_REPLACEMENT_WORDS = ["raw", "gzip", "bzip2", "ascii", "hex", "right-anterior-superior", "left-anterior-superior",
                      "foo", "none", "list", "vector", "domain", "double", "block", "uchar", "", "212", "16", "80",
                      "mV", "uV", "time_ms", "I"]


# ------------------------------------------------------------------------------------------------------------
# Mutations
# ------------------------------------------------------------------------------------------------------------
def _span(rng: np.random.Generator, size: int, regions: list[tuple[int, int]]) -> tuple[int, int]:
    lo, hi = regions[int(rng.integers(len(regions)))]
    lo, hi = max(0, min(lo, size)), max(0, min(hi, size))
    if hi <= lo:
        lo, hi = 0, size
    return lo, hi


def _bitflip(data: bytes, rng: np.random.Generator, regions: list[tuple[int, int]]) -> tuple[bytes, str]:
    buf = bytearray(data)
    lo, hi = _span(rng, len(buf), regions)
    n = int(rng.integers(1, 9))
    where = rng.integers(lo, max(lo + 1, hi), n)
    for pos in where:
        buf[int(pos)] ^= 1 << int(rng.integers(8))
    return bytes(buf), f"bitflip x{n} in [{lo},{hi})"


def _overwrite(data: bytes, rng: np.random.Generator, regions: list[tuple[int, int]]) -> tuple[bytes, str]:
    buf = bytearray(data)
    lo, hi = _span(rng, len(buf), regions)
    n = int(rng.integers(1, 17))
    pos = int(rng.integers(lo, max(lo + 1, hi)))
    choice = rng.integers(4)
    if choice == 0:
        chunk = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    elif choice == 1:
        chunk = b"\xff" * n
    elif choice == 2:
        chunk = b"\x00" * n
    else:
        chunk = struct.pack("<i", int(rng.choice([-1, 0x7FFFFFFF, 0x10000, 1 << 24, -(1 << 31)])))
    buf[pos:pos + len(chunk)] = chunk
    return bytes(buf[:len(data)]), f"overwrite {len(chunk)}B@{pos}"


def _truncate(data: bytes, rng: np.random.Generator, regions: list[tuple[int, int]]) -> tuple[bytes, str]:
    lo, hi = _span(rng, len(data), regions)
    cut = int(rng.integers(lo, max(lo + 1, hi)))
    return data[:cut], f"truncate@{cut}"


def _insert(data: bytes, rng: np.random.Generator, regions: list[tuple[int, int]]) -> tuple[bytes, str]:
    lo, hi = _span(rng, len(data), regions)
    pos = int(rng.integers(lo, max(lo + 1, hi)))
    n = int(rng.integers(1, 65))
    return data[:pos] + rng.integers(0, 256, n, dtype=np.uint8).tobytes() + data[pos:], f"insert {n}B@{pos}"


_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _text_edit(data: bytes, rng: np.random.Generator, header_end: int) -> tuple[bytes, str]:
    """Edit the text header (bytes [0, header_end)): numbers, words, lines."""
    head, tail = data[:header_end], data[header_end:]
    lines = head.split(b"\n")
    op = int(rng.integers(7))
    if op <= 2:  # change a number (most common: sizes, spacings, counts, gains)
        matches = list(_NUMBER.finditer(head))
        if matches:
            m = matches[int(rng.integers(len(matches)))]
            new = str(rng.choice(_REPLACEMENT_NUMBERS)).encode()
            if rng.random() < 0.3:
                try:
                    new = str(int(float(m.group()) * int(rng.integers(2, 1000)))).encode()
                except (ValueError, OverflowError):
                    pass
            return head[:m.start()] + new + head[m.end():] + tail, f"number {m.group()!r}->{new!r}@{m.start()}"
    if op == 3 and len(lines) > 1:
        i = int(rng.integers(len(lines)))
        return b"\n".join(lines[:i] + lines[i + 1:]) + tail, f"delete line {i}"
    if op == 4 and lines:
        i = int(rng.integers(len(lines)))
        return b"\n".join(lines[:i + 1] + [lines[i]] + lines[i + 1:]) + tail, f"duplicate line {i}"
    if op == 5 and lines:
        i = int(rng.integers(len(lines)))
        words = lines[i].split(b" ")
        j = int(rng.integers(len(words)))
        words[j] = str(rng.choice(_REPLACEMENT_WORDS)).encode()
        lines[i] = b" ".join(words)
        return b"\n".join(lines) + tail, f"word {j} of line {i}"
    i = int(rng.integers(len(lines) + 1))
    junk = bytes(rng.integers(32, 127, int(rng.integers(1, 40)), dtype=np.uint8))
    return b"\n".join(lines[:i] + [junk] + lines[i:]) + tail, f"insert line {i}"


# NIfTI-1 header fields (offset, struct format, count) worth corrupting.
_NIFTI_FIELDS = [(40, "h", 8), (70, "h", 1), (72, "h", 1), (76, "f", 8), (108, "f", 1), (112, "f", 1), (116, "f", 1),
                 (123, "B", 1), (252, "h", 1), (254, "h", 1), (256, "f", 6), (280, "f", 12), (0, "i", 1),
                 (344, "4s", 1)]


def _nifti_field_edit(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    buf = bytearray(data)
    offset, fmt, count = _NIFTI_FIELDS[int(rng.integers(len(_NIFTI_FIELDS)))]
    k = int(rng.integers(count))
    pos = offset + k * struct.calcsize(fmt)
    if fmt == "h":
        value: Any = int(rng.choice([-1, 0, 1, 2, 5, 7, 8, 32767, -32768, 512, 16, 64, 2304]))
    elif fmt == "f":
        value = float(rng.choice([0.0, -1.0, np.nan, np.inf, 1e30, 1e-30, 1000.0, 0.001, -1.5]))
    elif fmt == "B":
        value = int(rng.integers(256))
    elif fmt == "i":
        value = int(rng.choice([0, 540, 348, -1, 1 << 30]))
    else:
        value = bytes(rng.choice([b"n+2\x00", b"ni1\x00", b"xxxx"]))
    struct.pack_into("<" + fmt, buf, pos, value)
    return bytes(buf), f"nifti field @{pos} = {value!r}"


def _mutate(data: bytes, rng: np.random.Generator, *, regions: list[tuple[int, int]], text_end: int = 0,
            nifti: bool = False) -> tuple[bytes, str]:
    ops: list[Callable[..., tuple[bytes, str]]] = [_bitflip, _overwrite, _truncate, _insert]
    choice = int(rng.integers(len(ops) + (2 if text_end or nifti else 0)))
    if choice >= len(ops):
        if nifti:
            return _nifti_field_edit(data, rng)
        return _text_edit(data, rng, text_end)
    return ops[choice](data, rng, regions)


# ------------------------------------------------------------------------------------------------------------
# Harness
# ------------------------------------------------------------------------------------------------------------
class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float):
    def handler(signum, frame):  # noqa: ARG001
        raise _Timeout(f"reader took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def _memory_guard():
    """Cap the address space a little above the current use so that a runaway allocation raises MemoryError."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    try:
        vm = int(re.search(r"VmSize:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024
        cap = vm + MEMORY_HEADROOM
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (OSError, ValueError, AttributeError):
        pass
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _names_file(message: str, paths: list[Path]) -> bool:
    return any(str(p) in message or p.name in message for p in paths)


def _record_counts(name: str, counts: dict) -> None:
    COUNTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    try:
        existing = json.loads(COUNTS_FILE.read_text())
    except (OSError, ValueError):
        existing = {}
    existing[name] = counts
    tmp = COUNTS_FILE.with_suffix(".json.partial")
    tmp.write_text(json.dumps(existing, indent=2, sort_keys=True))
    tmp.replace(COUNTS_FILE)


def _run(name: str, reader: Callable[[Path], Any], expected: type | tuple, target: Path, sources: dict[Path, dict],
         rng: np.random.Generator, *, call_path: Path | None = None, n: int = N_SMALL,
         prepare: Callable[[Path, bytes], None] | None = None) -> dict:
    """Mutate one of ``sources`` (original path -> mutation options) into ``target`` and call ``reader``."""
    originals = {src: src.read_bytes() for src in sources}
    keys = list(sources)
    counts: dict[str, Any] = {"reader": name, "mutations": 0, "valid_container": 0, "input_error": 0,
                              "failures": 0, "failure_examples": []}
    t0 = time.perf_counter()
    with _memory_guard():
        for i in range(n):
            src = keys[i % len(keys)]
            opts = dict(sources[src])
            wrap_gzip = opts.pop("gzip_after", False)
            dest = opts.pop("dest", target)
            data, what = _mutate(originals[src], rng, **opts)
            if wrap_gzip:
                data = gzip.compress(data, compresslevel=1)
                what += " (then gzip)"
            if prepare is not None:
                prepare(dest, data)
            else:
                dest.write_bytes(data)
            counts["mutations"] += 1
            problem = None
            try:
                with _time_limit(TIMEOUT_S):
                    result = reader(call_path or dest)
                if not isinstance(result, expected):
                    problem = ("wrong container", type(result).__name__)
                else:
                    counts["valid_container"] += 1
            except CardioGenInputError as exc:
                msg = str(exc)
                if not _names_file(msg, [dest, call_path or dest]):
                    problem = ("message does not name the file", msg[:200])
                elif "not enough memory" in msg:
                    problem = ("memory guard hit", msg[:200])
                else:
                    counts["input_error"] += 1
            except (Exception, _Timeout) as exc:  # noqa: BLE001 - the point is to catch anything that escapes
                problem = (type(exc).__name__, str(exc)[:200])
            if problem is not None:
                counts["failures"] += 1
                if len(counts["failure_examples"]) < 25:
                    counts["failure_examples"].append({"mutation": f"{src.name}: {what}", "exception": problem[0],
                                                       "message": problem[1]})
    counts["seconds"] = round(time.perf_counter() - t0, 2)
    _record_counts(name, counts)
    print(f"\nfuzz {name}: {counts['mutations']} mutations -> {counts['valid_container']} valid, "
          f"{counts['input_error']} CardioGenInputError, {counts['failures']} failures ({counts['seconds']} s)")
    for example in counts["failure_examples"][:10]:
        print("   ", example)
    return counts


def _optional(module: str, name: str) -> Callable:
    try:
        mod = importlib.import_module(f"cardiogen.io.{module}")
    except ImportError as exc:
        pytest.skip(f"cardiogen.io.{module} not available yet ({exc})")
    fn = getattr(mod, name, None)
    if fn is None:
        pytest.skip(f"cardiogen.io.{module}.{name} not available yet")
    return fn


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng([SEED, sum(name.encode())])


def _assert_clean(counts: dict) -> None:
    assert counts["mutations"] >= N_MUTATIONS
    assert counts["failures"] == 0, json.dumps(counts["failure_examples"][:10], indent=1)


# ------------------------------------------------------------------------------------------------------------
# Sample preparation
# ------------------------------------------------------------------------------------------------------------
def _small_series(t: int) -> ImageSeries:
    rng = np.random.default_rng(7)
    c, s = np.cos(0.4), np.sin(0.4)
    direction = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ np.array(
        [[1.0, 0.0, 0.0], [0.0, np.cos(0.3), -np.sin(0.3)], [0.0, np.sin(0.3), np.cos(0.3)]])
    geometry = Geometry((1.25, 1.25, 6.0), (-30.0, 12.5, 80.0), direction)
    arr = rng.normal(100, 20, size=(t, 4, 12, 16)).astype(np.float32)
    return ImageSeries(arr, geometry, frame_times=np.arange(t) * 40.0, modality="cine", synthetic=True,
                       provenance={"seed": 7}, description="fuzz sample")


def _nrrd_text_end(data: bytes) -> int:
    end = data.find(b"\n\n")
    return end + 1 if end > 0 else min(len(data), 2048)


def _nrrd_sources(folder: Path, writer: Callable, obj: Any, name: str) -> dict[Path, dict]:
    import nrrd

    gz = folder / f"{name}"
    writer(obj, gz)
    raw_data, header = nrrd.read(str(gz))
    raw = folder / f"raw_{name}"
    header["encoding"] = "raw"
    nrrd.write(str(raw), raw_data, header)
    sources = {}
    for path in (gz, raw):
        data = path.read_bytes()
        end = _nrrd_text_end(data)
        sources[path] = {"regions": [(0, end), (0, len(data))], "text_end": end}
    return sources


# ------------------------------------------------------------------------------------------------------------
# Tests: own readers
# ------------------------------------------------------------------------------------------------------------
def test_fuzz_nrrd(tmp_path: Path) -> None:
    from cardiogen.io.nrrd_io import read_nrrd, write_nrrd

    sources = _nrrd_sources(tmp_path, write_nrrd, _small_series(1), "sample.nrrd")
    counts = _run("nrrd", read_nrrd, ImageSeries, tmp_path / "mutated.nrrd", sources, _rng("nrrd"))
    _assert_clean(counts)


def test_fuzz_seq_nrrd(tmp_path: Path) -> None:
    from cardiogen.io.nrrd_io import read_nrrd, write_nrrd

    sources = _nrrd_sources(tmp_path, write_nrrd, _small_series(5), "sample.seq.nrrd")
    counts = _run("seq_nrrd", read_nrrd, ImageSeries, tmp_path / "mutated.seq.nrrd", sources, _rng("seq_nrrd"))
    _assert_clean(counts)


def test_fuzz_seg_and_displacement_nrrd(tmp_path: Path) -> None:
    from cardiogen.io.nrrd_io import (read_displacement_nrrd, read_segmentation_nrrd, write_displacement_nrrd,
                                      write_segmentation_nrrd)

    series = _small_series(3)
    labels = np.zeros((1,) + series.spatial_shape, dtype=np.uint8)
    labels[:, 1:3, 3:9, 4:12] = 2
    labels[:, 1:3, 5:7, 6:10] = 1
    seg = Segmentation(labels, geometry=series.geometry)
    sources = _nrrd_sources(tmp_path, write_segmentation_nrrd, seg, "sample.seg.nrrd")
    counts = _run("seg_nrrd", read_segmentation_nrrd, Segmentation, tmp_path / "mutated.seg.nrrd", sources,
                  _rng("seg_nrrd"))
    _assert_clean(counts)
    disp = DisplacementSeries(np.random.default_rng(1).normal(size=(3, 3) + series.spatial_shape),
                              geometry=series.geometry, frame_times=[0, 40, 80])
    sources = _nrrd_sources(tmp_path, write_displacement_nrrd, disp, "disp.seq.nrrd")
    counts = _run("displacement_nrrd", read_displacement_nrrd, DisplacementSeries, tmp_path / "mutated_disp.seq.nrrd",
                  sources, _rng("displacement_nrrd"))
    _assert_clean(counts)


def test_fuzz_nifti_ct(tmp_path: Path, shared_data: Path) -> None:
    from cardiogen.io.nifti_io import read_nifti

    ct_gz = shared_data / "ct" / "ct_cropped.nii.gz"
    plain = tmp_path / "ct_plain.nii"
    plain.write_bytes(gzip.decompress(ct_gz.read_bytes()))
    size_gz, size = ct_gz.stat().st_size, plain.stat().st_size
    gz_copy = tmp_path / "ct_copy.nii.gz"
    gz_copy.write_bytes(ct_gz.read_bytes())
    sources = {
        gz_copy: {"regions": [(0, 512), (0, size_gz)], "dest": tmp_path / "mutated.nii.gz"},
        plain: {"regions": [(0, 352), (0, size)], "nifti": True, "dest": tmp_path / "mutated.nii"},
        tmp_path / "ct_plain_for_gz.nii": {"regions": [(0, 352), (0, size)], "nifti": True, "gzip_after": True,
                                           "dest": tmp_path / "mutated2.nii.gz"},
    }
    (tmp_path / "ct_plain_for_gz.nii").write_bytes(plain.read_bytes())
    counts = _run_multi("nifti_ct", read_nifti, ImageSeries, sources, _rng("nifti_ct"), n=300)
    _assert_clean(counts)


def _run_multi(name: str, reader: Callable, expected: type, sources: dict[Path, dict],
               rng: np.random.Generator, n: int = N_MUTATIONS) -> dict:
    """Like _run, but each source has its own destination file (its extension matters to the reader)."""
    return _run(name, reader, expected, next(iter(sources.values()))["dest"], sources, rng, n=n)


def _uncompressed_dns(src: Path, dest: Path) -> None:
    from scipy.io import loadmat, savemat

    m = loadmat(str(src), variable_names=["dns", "img", "roi", "seq"])
    keep = ("SliceThickness", "ImagePositionPatient", "ImageOrientationPatient", "TriggerTime", "RepetitionTime",
            "PixelSpacing", "DENSEid", "SeriesDescription", "ProtocolName")
    seq = m["seq"]
    small = np.empty(seq.shape, dtype=[(k, "O") for k in keep])
    for idx in np.ndindex(seq.shape):
        for k in keep:
            small[idx][k] = seq[idx][k]
    savemat(str(dest), {"dns": m["dns"], "img": m["img"], "roi": m["roi"], "seq": small}, do_compression=False)


def test_fuzz_dense(tmp_path: Path, shared_data: Path) -> None:
    from cardiogen.io.dense_io import read_dense_workspace

    real = shared_data / "dense" / "template.dns"
    copy = tmp_path / "template_copy.dns"
    copy.write_bytes(real.read_bytes())
    plain = tmp_path / "template_plain.dns"
    _uncompressed_dns(real, plain)
    assert isinstance(read_dense_workspace(plain), DenseSeries)
    size_c, size_p = copy.stat().st_size, plain.stat().st_size
    img_end = size_p - 70_000  # roi + seq sit after the big img cell
    sources = {
        copy: {"regions": [(0, 4096), (0, size_c)], "dest": tmp_path / "mutated.dns"},
        plain: {"regions": [(0, 2048), (img_end, size_p), (0, size_p)], "dest": tmp_path / "mutated_plain.dns"},
    }
    counts = _run("dense_dns", read_dense_workspace, DenseSeries, tmp_path / "mutated.dns", sources, _rng("dense"),
                  n=N_DENSE)
    _assert_clean(counts)


# ------------------------------------------------------------------------------------------------------------
# Tests: readers owned by other modules (skipped when absent)
# ------------------------------------------------------------------------------------------------------------
def test_fuzz_dicom_cine(tmp_path: Path, shared_data: Path) -> None:
    read_dicom_series = _optional("dicom_io", "read_dicom_series")
    src = shared_data / "cine_sunnybrook" / "SCD0000101" / "1.dcm"
    data = src.read_bytes()
    pixel = data.find(b"\xe0\x7f\x10\x00")
    header_end = pixel if pixel > 0 else 2048
    copy = tmp_path / "1_copy.dcm"
    copy.write_bytes(data)
    folder = tmp_path / "series"
    folder.mkdir()
    dest = folder / "1.dcm"
    sources = {copy: {"regions": [(0, header_end), (0, header_end), (0, len(data))], "dest": dest}}
    counts = _run("dicom_cine", read_dicom_series, ImageSeries, dest, sources, _rng("dicom_cine"), call_path=folder)
    _assert_clean(counts)


def test_fuzz_dicom_ecg(tmp_path: Path, shared_data: Path) -> None:
    read_ecg_dicom = _optional("ecg_io", "read_ecg_dicom")
    src = shared_data / "ecg" / "waveform_ecg.dcm"
    data = src.read_bytes()
    wave = data.find(b"\x00\x54\x10\x10")
    copy = tmp_path / "ecg_copy.dcm"
    copy.write_bytes(data)
    dest = tmp_path / "mutated_ecg.dcm"
    sources = {copy: {"regions": [(0, 4096), (0, wave if wave > 0 else 8192), (0, len(data))], "dest": dest}}
    counts = _run("dicom_ecg", read_ecg_dicom, Ecg, dest, sources, _rng("dicom_ecg"))
    _assert_clean(counts)


def test_fuzz_wfdb(tmp_path: Path, shared_data: Path) -> None:
    read_ecg_wfdb = _optional("ecg_io", "read_ecg_wfdb")
    src = shared_data / "ecg" / "mitdb_100"
    n_samples = 3600  # first 10 s: format 212 packs 2 signals in 3 bytes per sample
    hea = (src / "100.hea").read_bytes().replace(b"100 2 360 650000", f"100 2 360 {n_samples}".encode())
    dat = (src / "100.dat").read_bytes()[: n_samples * 3]
    base_hea, base_dat = tmp_path / "orig.hea", tmp_path / "orig.dat"
    base_hea.write_bytes(hea)
    base_dat.write_bytes(dat)
    dest_hea, dest_dat = tmp_path / "100.hea", tmp_path / "100.dat"
    dest_hea.write_bytes(hea)
    dest_dat.write_bytes(dat)
    assert isinstance(read_ecg_wfdb(dest_hea), Ecg)

    def prepare(dest: Path, payload: bytes) -> None:
        # Mutate one file, restore the other.
        (dest_dat if dest == dest_hea else dest_hea).write_bytes(dat if dest == dest_hea else hea)
        dest.write_bytes(payload)

    sources = {
        base_hea: {"regions": [(0, len(hea))], "text_end": len(hea), "dest": dest_hea},
        base_dat: {"regions": [(0, 64), (0, len(dat))], "dest": dest_dat},
    }
    counts = _run("wfdb", read_ecg_wfdb, Ecg, dest_hea, sources, _rng("wfdb"), call_path=dest_hea, prepare=prepare)
    _assert_clean(counts)


def test_fuzz_csv_ecg(tmp_path: Path, shared_data: Path) -> None:
    read_ecg_csv = _optional("ecg_io", "read_ecg_csv")
    write_ecg_csv = _optional("ecg_io", "write_ecg_csv")
    read_ecg_dicom = _optional("ecg_io", "read_ecg_dicom")
    full = read_ecg_dicom(shared_data / "ecg" / "waveform_ecg.dcm")
    n = int(full.sampling_rate)  # first second
    ecg = Ecg(full.signals[:, :n], full.sampling_rate, full.lead_names)
    base = tmp_path / "orig.csv"
    write_ecg_csv(ecg, base)
    data = base.read_bytes()
    text_end = data.find(b"\n", data.find(b"time_ms")) + 1 if b"time_ms" in data else min(512, len(data))
    dest = tmp_path / "mutated.csv"
    sources = {base: {"regions": [(0, text_end), (0, len(data))], "text_end": len(data), "dest": dest}}
    counts = _run("csv_ecg", read_ecg_csv, Ecg, dest, sources, _rng("csv_ecg"))
    _assert_clean(counts)
