"""Run ``dciodvfy`` (DICOM IOD validator of dicom3tools, Debian package ``dicom3tools``) on exported DICOM files.

``validate_folder`` checks every ``*.dcm`` file of a folder and sorts what the validator prints into errors and
warnings; ``assert_conforms`` fails on any error, and on any warning except "attribute not present in the standard
IOD" for the attributes a test names (a Standard Extended SOP Class is allowed by PS3.4 B.1.3, as long as it is
listed), so that a regression that only warns (e.g. RescaleSlope back in an MR image) also fails.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SKIP_REASON = ("dciodvfy not found: install the Debian package dicom3tools (apt-get install -y dicom3tools; "
               ".ci/run does) to run the DICOM conformance tier")

#: the summary line dciodvfy adds when any attribute outside the IOD is present
_EXTENDED = ("Dicom dataset contains attributes not present in standard DICOM IOD - "
             "this is a Standard Extended SOP Class")
_NOT_IN_IOD = re.compile(r"Attribute is not present in standard DICOM IOD - (\(0x[0-9a-f]{4},0x[0-9a-f]{4}\))")


def dciodvfy() -> str:
    """Path of the dciodvfy executable; skips the calling test with the reason when it is not installed."""
    path = shutil.which("dciodvfy")
    if path is None:
        pytest.skip(SKIP_REASON)
    return path


@dataclass
class FolderReport:
    """What dciodvfy printed for every file of one folder."""

    folder: Path
    files: int = 0
    iods: Counter = field(default_factory=Counter)  # IOD name dciodvfy recognised -> files
    errors: Counter = field(default_factory=Counter)  # message -> files
    warnings: Counter = field(default_factory=Counter)  # message -> files
    first_file: dict = field(default_factory=dict)  # message -> first file that printed it

    def extension_tags(self) -> set[str]:
        """Tags, as "(0xgggg,0xeeee)", that dciodvfy reports as outside the standard IOD."""
        return {m.group(1) for w in self.warnings if (m := _NOT_IN_IOD.search(w))}

    def other_warnings(self) -> list[str]:
        """Warnings other than "not present in standard IOD" and its Standard Extended summary line."""
        return [w for w in self.warnings if not _NOT_IN_IOD.search(w) and w.strip() != _EXTENDED]

    def describe(self) -> str:
        lines = [f"{self.folder}: {self.files} files, IOD {dict(self.iods)}"]
        for kind, counter in (("error", self.errors), ("warning", self.warnings)):
            for message, n in counter.most_common():
                lines.append(f"  {kind} in {n} files (first {self.first_file[message].name}): {message}")
        return "\n".join(lines)


def _normalise(message: str) -> str:
    """A message without its per-file values (``<...>`` after "attribute"), so files group together."""
    return re.sub(r"(= )<[^>]*>", r"\1<...>", message.strip())


def validate_folder(folder: Path) -> FolderReport:
    """dciodvfy on every ``*.dcm`` file of ``folder`` (at least one)."""
    exe = dciodvfy()
    files = sorted(Path(folder).glob("*.dcm"))
    assert files, f"no DICOM files in {folder}"
    report = FolderReport(Path(folder), files=len(files))
    for path in files:
        run = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=120)
        for line in (run.stdout + run.stderr).splitlines():
            line = line.strip()
            if line.startswith("Error - "):
                message = _normalise(line[len("Error - "):])
                report.errors[message] += 1
            elif line.startswith("Warning - "):
                message = _normalise(line[len("Warning - "):])
                report.warnings[message] += 1
            elif line and " " not in line:
                report.iods[line] += 1
                continue
            else:
                continue
            report.first_file.setdefault(message, path)
        if run.returncode != 0 and not report.errors:
            report.errors[f"dciodvfy exited {run.returncode}"] += 1
            report.first_file.setdefault(f"dciodvfy exited {run.returncode}", path)
    return report


def assert_conforms(folder: Path, iod: str, allowed_extension_tags: set[str] = frozenset(),
                    allowed_warnings: tuple[str, ...] = ()) -> FolderReport:
    """Every file of ``folder`` is the IOD ``iod`` (e.g. "MRImage") with no error and no warning but
    "not present in standard IOD" for ``allowed_extension_tags`` (tags as "(0x0018,0x1060)") and warnings that
    contain one of ``allowed_warnings``."""
    report = validate_folder(folder)
    assert not report.errors, report.describe()
    assert report.iods == Counter({iod: report.files}), report.describe()
    others = [w for w in report.other_warnings() if not any(a in w for a in allowed_warnings)]
    assert not others, report.describe()
    unexpected = report.extension_tags() - set(allowed_extension_tags)
    assert not unexpected, f"attributes outside the {iod} IOD: {sorted(unexpected)}\n{report.describe()}"
    return report
