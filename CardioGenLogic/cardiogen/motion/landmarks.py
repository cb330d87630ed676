"""Circumferential and radial strain from tracked myocardial landmarks (seed 001 ch. 4; issue 19 item 3).

Every value names its definition; both are computed side by side from segment lengths ``L`` (frame t) and ``L₀``
(reference frame, end-diastole by default):

* ``green_lagrange``: ``½ (L² − L₀²) / L₀²`` (seed 001 ch. 4, eq. 4.2; the project's strain convention),
* ``engineering``:    ``(L − L₀) / L₀``.

Segments (pairs of landmarks):

* **circumferential**: consecutive points along each layer's closed ring (one ring = one ``slice`` and ``layer``),
  ordered by the ``sector`` label (or by angle when there is none);
* **radial**: points of the same ``slice`` and ``sector`` on adjacent layers (e.g. ``endo-mid``, ``mid-epi``) and
  the transmural pair endocardium -> epicardium (``endo-epi``); the global and AHA radial curves use the
  transmural pairs.

Regions: ``global`` (all circumferential segments; the transmural radial ones), each layer (``endo``, ``mid``,
``epi`` for circumferential; ``endo-mid`` ... for radial), and the 16 AHA segments. A segment's AHA label is the
``segment`` label of its first point when given, else from the angle of its midpoint about the centre of its slice
at the reference frame, with :mod:`cardiogen.motion.aha`'s convention: θ = atan2(v, u) in the image plane (u = +x
column, v = −y row; geometry's direction when the series has one, else LPS x and −y), anterior RV insertion at
``rv_insertion_deg`` (120° default), slice order base -> apex by the ``slice`` label split in thirds (one slice =
mid).
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
import numpy as np

from ..data import LandmarkSeries
from ..errors import CardioGenInputError
from .aha import DEFAULT_RV_INSERTION_DEG, N_SEGMENTS

__all__ = ["DEFINITIONS", "LandmarkStrain", "landmark_strain_series", "segment_strain"]

#: Strain definitions computed side by side (key -> formula).
DEFINITIONS = {
    "green_lagrange": "1/2 (L^2 - L0^2) / L0^2 (Green-Lagrange, seed 001 ch. 4 eq. 4.2)",
    "engineering": "(L - L0) / L0 (engineering / Lagrangian stretch - 1)",
}


def segment_strain(lengths: np.ndarray, reference_frame: int, definition: str) -> np.ndarray:
    """Strain ``(t, m)`` of segment lengths ``(t, m)`` relative to ``reference_frame`` by ``definition``."""
    if definition not in DEFINITIONS:
        raise CardioGenInputError("unknown strain definition", expected=tuple(DEFINITIONS), got=definition)
    length = np.asarray(lengths, dtype=float)
    l0 = length[reference_frame]
    if np.any(l0 <= 0):
        raise CardioGenInputError("landmark segment with zero length at the reference frame",
                                  got=int(np.count_nonzero(l0 <= 0)))
    if definition == "green_lagrange":
        return 0.5 * (length**2 - l0**2) / l0**2
    return (length - l0) / l0


@dataclass
class LandmarkStrain:
    """Result of :func:`landmark_strain_series`.

    Attributes:
        curves: ``"<definition>/<component>/<region>"`` -> ``(t,)``; definition in :data:`DEFINITIONS`, component
            ``circumferential`` / ``radial``, region ``global`` or a layer name (``endo``; radial ``endo-epi``).
        segments: ``"<definition>/<component>"`` (and ``.../<layer>``) -> ``(t, 16)`` AHA means, NaN when empty.
        pairs: component -> int ``(m, 2)`` point indices; pair_layer / pair_segment: ``(m,)`` layer name, AHA 1..16.
        pair_strain: ``"<definition>/<component>"`` -> ``(t, m)``.
        frame_times, reference_frame, provenance (definitions, conventions, landmark provenance).
    """

    curves: dict
    segments: dict
    pairs: dict
    pair_layer: dict
    pair_segment: dict
    pair_strain: dict
    frame_times: np.ndarray
    reference_frame: int
    provenance: dict = field(default_factory=dict)

    def curve(self, component: str, definition: str = "green_lagrange", region: str = "global") -> np.ndarray:
        key = f"{definition}/{component}/{region}"
        if key not in self.curves:
            raise CardioGenInputError("no such landmark strain curve", expected=sorted(self.curves), got=key)
        return self.curves[key]

    def segment_curves(self, component: str, definition: str = "green_lagrange",
                       layer: str | None = None) -> np.ndarray:
        key = f"{definition}/{component}" + (f"/{layer}" if layer else "")
        if key not in self.segments:
            raise CardioGenInputError("no such landmark strain segment curves", expected=sorted(self.segments),
                                      got=key)
        return self.segments[key]

    def write_csv(self, path: str | os.PathLike) -> None:
        """One row per frame: ``time_ms``, every curve, then ``<definition>/<component>/segNN``."""
        from ..io.atomic import atomic_path  # noqa: PLC0415

        cols: list[tuple[str, np.ndarray]] = [("time_ms", np.asarray(self.frame_times, dtype=float))]
        cols += sorted(self.curves.items())
        for key, arr in sorted(self.segments.items()):
            cols += [(f"{key}/seg{k + 1:02d}", arr[:, k]) for k in range(arr.shape[1])]
        with atomic_path(path) as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow([c for c, _ in cols])
                for t in range(len(self.frame_times)):
                    writer.writerow([f"{v[t]:.6g}" for _, v in cols])


def _plane_axes(series: LandmarkSeries) -> tuple[np.ndarray, np.ndarray]:
    if series.geometry is not None:
        d = np.asarray(series.geometry.direction)
        return d[:, 0], -d[:, 1]
    return np.array([1.0, 0.0, 0.0]), np.array([0.0, -1.0, 0.0])


def _levels(slices: list[int]) -> dict[int, int]:
    n = len(slices)
    if n == 1:
        return {slices[0]: 1}
    return {k: min(3 * rank // n, 2) for rank, k in enumerate(sorted(slices))}


def _aha(theta: np.ndarray, level: np.ndarray, insertion: float) -> np.ndarray:
    s6 = np.floor(((theta - insertion + 60.0) % 360.0) / 60.0).astype(np.int64) % 6
    s4 = np.floor(((theta - (insertion + 60.0) + 135.0) % 360.0) / 90.0).astype(np.int64) % 4
    return np.where(level == 2, 13 + s4, 1 + 6 * level + s6)


def landmark_strain_series(series: LandmarkSeries, *, reference_frame: int | None = None,
                           rv_insertion_deg: float | None = None, mirror: bool = False,
                           in_plane: bool = False) -> LandmarkStrain:
    """Circumferential and radial strain (Green-Lagrange and engineering) per layer, AHA segment and global.

    Args:
        series: :class:`~cardiogen.data.LandmarkSeries` with ``layer`` labels (``sector`` / ``slice`` optional).
        reference_frame: frame of ``L₀`` (default the series' reference frame, ED).
        rv_insertion_deg: anterior RV insertion angle for the AHA segments (default 120°).
        mirror: images displayed as viewed from the base (angles clockwise).
        in_plane: measure lengths in the image plane only (drop through-plane motion); default 3D lengths.

    Returns:
        :class:`LandmarkStrain`.
    """
    if not isinstance(series, LandmarkSeries):
        raise CardioGenInputError("landmark strain needs a cardiogen.data.LandmarkSeries", got=type(series).__name__)
    t_ref = series.reference_frame if reference_frame is None else int(reference_frame)
    if not -series.n_frames <= t_ref < series.n_frames:
        raise CardioGenInputError("reference frame out of range", expected=f"0..{series.n_frames - 1}", got=t_ref)
    t_ref %= series.n_frames
    n = series.n_points
    labels = series.labels
    layer = labels.get("layer", np.asarray([series.layer_order[len(series.layer_order) // 2]] * n, dtype=object))
    slc = labels.get("slice", np.zeros(n, dtype=np.int64))
    insertion = DEFAULT_RV_INSERTION_DEG if rv_insertion_deg is None else float(rv_insertion_deg)
    if not np.isfinite(insertion):
        raise CardioGenInputError("rv_insertion_deg must be finite", got=rv_insertion_deg)
    e_u, e_v = _plane_axes(series)
    pts = series.points
    if in_plane:
        normal = np.cross(e_u, e_v)
        pts = pts - (pts @ normal)[..., None] * normal
    ref = pts[t_ref]
    theta = np.zeros(n)
    centres = {}
    for s in np.unique(slc):
        sel = slc == s
        c = ref[sel].mean(axis=0)
        centres[int(s)] = c
        rel = ref[sel] - c
        theta[sel] = np.degrees(np.arctan2((rel @ e_v) * (-1 if mirror else 1), rel @ e_u)) % 360.0
    sector = labels.get("sector")
    if sector is None:  # order each ring by angle
        sector = np.zeros(n, dtype=np.int64)
        for s in np.unique(slc):
            for lay in series.layer_order:
                idx = np.nonzero((slc == s) & (layer == lay))[0]
                sector[idx[np.argsort(theta[idx])]] = np.arange(idx.size)
        by_angle = True
    else:
        by_angle = False
    level_of = _levels([int(s) for s in np.unique(slc)])

    pairs: dict[str, list] = {"circumferential": [], "radial": []}
    pair_layer: dict[str, list] = {"circumferential": [], "radial": []}
    for s in np.unique(slc):
        rings = {}
        for lay in series.layer_order:
            idx = np.nonzero((slc == s) & (layer == lay))[0]
            if idx.size == 0:
                continue
            idx = idx[np.argsort(sector[idx], kind="stable")]
            if len(set(sector[idx].tolist())) != idx.size:
                raise CardioGenInputError(f"slice {int(s)}, layer {lay}: two landmarks share a sector",
                                          expected="one point per sector and ring")
            rings[lay] = idx
            if idx.size >= 3:
                for a, b in zip(idx, np.roll(idx, -1)):
                    pairs["circumferential"].append((a, b))
                    pair_layer["circumferential"].append(lay)
        present = [lay for lay in series.layer_order if lay in rings]
        radial_layers = list(zip(present[:-1], present[1:]))
        if len(present) > 2:
            radial_layers.append((present[0], present[-1]))
        for inner, outer in radial_layers:
            a_idx, b_idx = rings[inner], rings[outer]
            for a in a_idx:
                if by_angle:
                    diff = np.abs((theta[b_idx] - theta[a] + 180.0) % 360.0 - 180.0)
                    b = b_idx[int(np.argmin(diff))]
                else:
                    match = b_idx[sector[b_idx] == sector[a]]
                    if match.size == 0:
                        continue
                    b = match[0]
                pairs["radial"].append((a, b))
                pair_layer["radial"].append(f"{inner}-{outer}")
    if not pairs["circumferential"] and not pairs["radial"]:
        raise CardioGenInputError("no landmark segments: rings need >= 3 points, radial lines >= 2 layers",
                                  got=f"{n} points")
    transmural = f"{series.layer_order[0]}-{series.layer_order[-1]}"
    curves, segments, pair_strain, pair_arr, pair_seg, pair_lay = {}, {}, {}, {}, {}, {}
    for comp, plist in pairs.items():
        if not plist:
            continue
        pr = np.asarray(plist, dtype=np.int64)
        lay = np.asarray(pair_layer[comp], dtype=object)
        # AHA segment of each pair: the label of its first point, else the angle of its midpoint.
        mid = 0.5 * (ref[pr[:, 0]] + ref[pr[:, 1]])
        seg = np.zeros(len(pr), dtype=np.int64)
        for i, (a, _) in enumerate(pr):
            c = centres[int(slc[a])]
            rel = mid[i] - c
            th = np.degrees(np.arctan2((rel @ e_v) * (-1 if mirror else 1), rel @ e_u)) % 360.0
            if comp == "radial":
                th = theta[a]
            seg[i] = _aha(np.asarray(th), np.asarray(level_of[int(slc[a])]), insertion)
        if "segment" in labels:
            seg = labels["segment"][pr[:, 0]].astype(np.int64)
        lengths = np.linalg.norm(pts[:, pr[:, 0]] - pts[:, pr[:, 1]], axis=-1)
        glob = np.ones(len(pr), dtype=bool)
        if comp == "radial":
            glob = lay == (transmural if np.any(lay == transmural) else lay[0])
        for definition in DEFINITIONS:
            e = segment_strain(lengths, t_ref, definition)
            key = f"{definition}/{comp}"
            pair_strain[key] = e
            curves[f"{key}/global"] = e[:, glob].mean(axis=1)
            for name in dict.fromkeys(lay.tolist()):
                sel = lay == name
                curves[f"{key}/{name}"] = e[:, sel].mean(axis=1)
                segments[f"{key}/{name}"] = _segment_means(e[:, sel], seg[sel])
            segments[key] = _segment_means(e[:, glob], seg[glob])
        pair_arr[comp], pair_seg[comp], pair_lay[comp] = pr, seg, lay
    provenance = {
        "definitions": dict(DEFINITIONS),
        "reference_frame": t_ref,
        "lengths": "in-plane" if in_plane else "3D",
        "rings": "ordered by angle" if by_angle else "ordered by sector label",
        "aha": {"rv_insertion_deg": insertion, "mirror": bool(mirror), "levels_by_slice": level_of},
        "landmark_provenance": dict(series.provenance),
    }
    return LandmarkStrain(curves=curves, segments=segments, pairs=pair_arr, pair_layer=pair_lay,
                          pair_segment=pair_seg, pair_strain=pair_strain, frame_times=series.frame_times.copy(),
                          reference_frame=t_ref, provenance=provenance)


def _segment_means(values: np.ndarray, seg: np.ndarray) -> np.ndarray:
    out = np.full((values.shape[0], N_SEGMENTS), np.nan)
    for s in range(1, N_SEGMENTS + 1):
        sel = seg == s
        if sel.any():
            out[:, s - 1] = values[:, sel].mean(axis=1)
    return out
