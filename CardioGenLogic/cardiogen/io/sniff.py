"""Recognise file formats by content and extension, and shared guards for the readers.

Readers in :mod:`cardiogen.io` must turn every failure on bad input into
:class:`~cardiogen.errors.CardioGenInputError` naming the file. :func:`input_errors` does that for the
exception types third-party parsers raise on corrupt data; :func:`require_file` checks a path first.
"""
from __future__ import annotations

import contextlib
import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import Iterator

from ..errors import CardioGenInputError

__all__ = [
    "MAX_BYTES",
    "FORMATS",
    "check_size",
    "detect_format",
    "full_suffix",
    "input_errors",
    "require_file",
]

#: Largest decoded array a reader accepts (bytes). Headers that imply more are rejected before reading, so that a
#: corrupt size field cannot trigger a huge allocation.
MAX_BYTES = 2 * 1024**3

#: Format names :func:`detect_format` returns, with what identifies them.
FORMATS = {
    "nrrd": ".nrrd / .nhdr / .seq.nrrd / .seg.nrrd (magic 'NRRD000x')",
    "nifti": ".nii / .nii.gz (NIfTI-1/2 magic)",
    "dense": ".dns or .mat (MATLAB v5 MAT-file with dns/img variables)",
    "dicom": "DICOM file ('DICM' at byte 128) or a folder of DICOM files",
    "ecg_dicom": "DICOM waveform (ECG) file",
    "wfdb": ".hea / .dat WFDB record",
    "csv": ".csv ECG table",
}

# Exception types that parsers (pynrrd, nibabel, scipy.io, pydicom, wfdb, gzip ...) raise on corrupt data.
_DATA_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    AttributeError,
    ArithmeticError,
    EOFError,
    UnicodeError,
    OSError,
    RuntimeError,
    struct.error,
    zlib.error,
    NotImplementedError,
    AssertionError,  # some third-party parsers use assert for format checks
)


def full_suffix(path: str | os.PathLike) -> str:
    """Lower-case compound suffix that matters for dispatch: '.seq.nrrd', '.seg.nrrd', '.nii.gz', '.nrrd' ..."""
    name = Path(path).name.lower()
    for compound in (".seq.nrrd", ".seg.nrrd", ".nii.gz"):
        if name.endswith(compound):
            return compound
    return Path(name).suffix


def require_file(path: str | os.PathLike, what: str = "file") -> Path:
    """Return ``path`` as a :class:`Path` if it is a readable regular file, else raise CardioGenInputError."""
    p = Path(path)
    if not p.exists():
        raise CardioGenInputError(f"{what} not found", source=p)
    if p.is_dir():
        raise CardioGenInputError(f"{what} is a folder, expected a file", source=p)
    if not p.is_file():
        raise CardioGenInputError(f"{what} is not a regular file", source=p)
    return p


def check_size(n_items: int, itemsize: int, path: str | os.PathLike, what: str = "image") -> None:
    """Reject arrays whose declared size exceeds :data:`MAX_BYTES` (corrupt or absurd headers)."""
    if n_items < 0 or itemsize <= 0:
        raise CardioGenInputError(f"{what} has an invalid size in its header", source=path, got=n_items)
    total = int(n_items) * int(itemsize)
    if total > MAX_BYTES:
        raise CardioGenInputError(
            f"{what} header declares {total / 1024**3:.1f} GB of data; refusing to read more than "
            f"{MAX_BYTES / 1024**3:.0f} GB (corrupt header?)",
            source=path,
        )


@contextlib.contextmanager
def input_errors(path: str | os.PathLike, what: str, extra: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Turn parser exceptions raised inside the block into CardioGenInputError naming ``path``.

    CardioGenInputError raised inside (e.g. by a container's validation) gets ``path`` as its source if it has none.
    """
    try:
        yield
    except CardioGenInputError as exc:
        if exc.source:
            raise
        raise exc.with_source(path) from exc
    except MemoryError as exc:
        raise CardioGenInputError(f"cannot read {what}: not enough memory (corrupt sizes in the file?)",
                                  source=path) from exc
    except _DATA_ERRORS + tuple(extra) as exc:
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise CardioGenInputError(f"cannot read {what}: {type(exc).__name__}: {detail}".rstrip(": "),
                                  source=path) from exc


def _head(path: Path, n: int = 1024) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise CardioGenInputError(f"cannot open file: {exc.strerror or exc}", source=path) from exc


def _gunzip_head(path: Path, n: int = 1024) -> bytes:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError, zlib.error):
        return b""


def _is_nifti_header(head: bytes) -> bool:
    if len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
        return True
    if len(head) >= 12 and head[4:8] in (b"n+2\x00", b"ni2\x00"):
        return True
    return False


def _is_dicom(path: Path, head: bytes) -> bool:
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    try:  # files without the preamble: ask the DICOM reader's owner if present
        from . import dicom_io  # noqa: PLC0415 (lazy: written by another module owner)
    except ImportError:
        return False
    is_dicom = getattr(dicom_io, "is_dicom", None)
    if is_dicom is None:
        return False
    try:
        return bool(is_dicom(path))
    except (CardioGenInputError,) + _DATA_ERRORS:
        return False


def detect_format(path: str | os.PathLike) -> str:
    """Name the format of ``path`` (a key of :data:`FORMATS`), from its content first and its extension second.

    Folders return ``"dicom"`` when they hold at least one DICOM file. Raises CardioGenInputError naming the path when
    it does not exist or the format is not recognised.
    """
    p = Path(path)
    if not p.exists():
        raise CardioGenInputError("file or folder not found", source=p)
    if p.is_dir():
        if _folder_has_dicom(p):
            return "dicom"
        raise CardioGenInputError("unknown file type: folder without DICOM files", source=p,
                                  expected=list(FORMATS.values()), got="folder")
    head = _head(p)
    suffix = full_suffix(p)
    if head.startswith(b"NRRD000"):
        return "nrrd"
    if head.startswith(b"MATLAB 5.0 MAT-file") or (suffix in (".dns", ".mat") and head[:4] == b"\x89HDF"):
        return "dense"
    if _is_nifti_header(head):
        return "nifti"
    if head[:2] == b"\x1f\x8b" and (suffix == ".nii.gz" or _is_nifti_header(_gunzip_head(p))):
        return "nifti"
    if _is_dicom(p, head):
        if _is_ecg_dicom(p):
            return "ecg_dicom"
        return "dicom"
    # By extension (content did not say).
    by_ext = {".nrrd": "nrrd", ".nhdr": "nrrd", ".seq.nrrd": "nrrd", ".seg.nrrd": "nrrd", ".nii": "nifti",
              ".nii.gz": "nifti", ".dns": "dense", ".hea": "wfdb", ".dat": "wfdb", ".csv": "csv", ".dcm": "dicom"}
    if suffix == ".dat" and not p.with_suffix(".hea").exists():
        raise CardioGenInputError("unknown file type: .dat file without a WFDB .hea header beside it", source=p,
                                  expected=list(FORMATS.values()), got=suffix)
    if suffix in by_ext:
        return by_ext[suffix]
    raise CardioGenInputError("unknown file type", source=p, expected=list(FORMATS.values()),
                              got=f"extension '{suffix or '(none)'}', first bytes {head[:16]!r}")


def _is_ecg_dicom(path: Path) -> bool:
    try:
        from . import ecg_io  # noqa: PLC0415 (lazy: written by another module owner)
    except ImportError:
        return _looks_like_waveform(path)
    fn = getattr(ecg_io, "is_ecg_dicom", None)
    if fn is None:
        return _looks_like_waveform(path)
    try:
        return bool(fn(path))
    except (CardioGenInputError,) + _DATA_ERRORS:
        return False


def _looks_like_waveform(path: Path) -> bool:
    """Fallback: WaveformSequence tag (5400,0100) present in the first 64 kB."""
    data = _head(path, 65536)
    return b"\x00\x54\x00\x01" in data


def _folder_has_dicom(folder: Path, limit: int = 200) -> bool:
    for i, child in enumerate(sorted(folder.iterdir())):
        if i >= limit:
            break
        if child.is_file():
            head = _head(child, 132)
            if len(head) >= 132 and head[128:132] == b"DICM":
                return True
            if child.suffix.lower() == ".dcm":
                return True
    return False

