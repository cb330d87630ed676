"""A result's provenance where a user sees and keeps it: the panel's text, node attributes and a JSON file beside an
export.

Pipelines record their provenance on each output (``ImageSeries.provenance``: pipeline, weights id and sha256, seed,
sampler, device, quality, warnings, ...). :func:`set_node_attributes` keeps it on the node (the whole record as JSON
in ``CardioGen.Provenance``, the key fields each in their own ``CardioGen.Provenance.<Field>`` attribute, readable
in Slicer's Data module), :func:`summary_text` is the panel's line and :func:`write_sidecar` the JSON written beside
an exported GIF / MP4 / DICOM folder. Nothing here imports slicer: nodes are used through ``Get/SetAttribute``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

ATTR_PROVENANCE = "CardioGen.Provenance"
#: (provenance key, attribute suffix, label) of the fields shown and kept one by one
KEY_FIELDS = (("pipeline", "Pipeline", "pipeline"), ("weights", "Weights", "weights"),
              ("weights_sha256", "WeightsSHA256", "sha256"), ("seed", "Seed", "seed"),
              ("sampler", "Sampler", "sampler"), ("device", "Device", "device"))
SIDECAR_SUFFIX = ".provenance.json"


def key_fields(provenance: Optional[dict]) -> dict:
    """The key fields present in ``provenance`` (``{key: value}``, in :data:`KEY_FIELDS` order)."""
    prov = provenance or {}
    return {key: prov[key] for key, _, _ in KEY_FIELDS if prov.get(key) not in (None, "")}


def summary_text(provenance: Optional[dict], sha_chars: int = 16) -> str:
    """One line for the panel: ``pipeline dense_to_cine · weights mfd-v2v-phantom-32 · sha256 05583eb92cc8344b… ·
    seed 0 · sampler ddim (25 steps) · device cpu``; "" without provenance."""
    prov = provenance or {}
    parts = []
    for key, _, label in KEY_FIELDS:
        if prov.get(key) in (None, ""):
            continue
        value = str(prov[key])
        if key == "weights_sha256" and len(value) > sha_chars:
            value = value[:sha_chars] + "…"
        if key == "sampler" and prov.get("steps") is not None:
            value += f" ({prov['steps']} steps)"
        parts.append(f"{label} {value}")
    return " · ".join(parts)


def set_node_attributes(node: Any, provenance: Optional[dict], whole: bool = True) -> None:
    """Keep ``provenance`` on ``node``: the whole record (JSON, unless ``whole`` is False: the frames of a sequence
    carry only the key fields, which its proxy node keeps as the browser steps) and each key field in its own
    attribute."""
    if not provenance:
        return
    if whole:
        node.SetAttribute(ATTR_PROVENANCE, json.dumps(provenance, default=str))
    for key, suffix, _ in KEY_FIELDS:
        if provenance.get(key) not in (None, ""):
            node.SetAttribute(f"{ATTR_PROVENANCE}.{suffix}", str(provenance[key]))


def from_node(node: Any) -> dict:
    """The provenance kept on ``node`` (:func:`set_node_attributes`; {} when there is none). An unreadable whole
    record leaves the key fields, as strings."""
    text = node.GetAttribute(ATTR_PROVENANCE)
    if text:
        try:
            prov = json.loads(text)
        except ValueError:
            prov = None
        if isinstance(prov, dict):
            return prov
    out = {}
    for key, suffix, _ in KEY_FIELDS:
        value = node.GetAttribute(f"{ATTR_PROVENANCE}.{suffix}")
        if value:
            out[key] = value
    return out


def sidecar_path(exported: str | Path) -> Path:
    """``result.gif`` → ``result.provenance.json`` beside it; a DICOM folder → ``<folder>/provenance.json``."""
    path = Path(exported)
    if path.is_dir():
        return path / SIDECAR_SUFFIX.lstrip(".")
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def write_sidecar(exported: str | Path, provenance: dict, name: str = "", synthetic: bool = True) -> Path:
    """Write the provenance of an exported result beside it (see :func:`sidecar_path`); returns the JSON's path."""
    path = sidecar_path(exported)
    record = {"exported": Path(exported).name, "node": name, "synthetic": bool(synthetic),
              "key": key_fields(provenance), "provenance": provenance}
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return path
