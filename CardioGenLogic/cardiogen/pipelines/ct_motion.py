"""``ct_motion``: an end-systolic CT in, synthetic end-diastolic CTs with their exact flow out (seed 004).

Steps: pick the ES phase of the CT (option ``phase``; default the ES phase the file records, or its only phase) ->
find the heart (the ``heart`` mask input, or the largest contrast-filled region, :func:`find_heart`; a CT without
one is refused) -> resample a cube around it to the model's grid (the registry's voxel size and matrix, the input's
orientation) -> the flow CVAE (``ct-cvae-phantom-48``) samples ``samples`` flows conditioned on the ES volume ->
each flow, in mm, is interpolated back onto the input grid (0 outside the model's cube: the body does not move) and
warps the input ES volume at its own resolution into a synthetic ED volume.

Outputs, all marked synthetic (description "SYNTHETIC ...", provenance with weights and sha256, seed, sample index,
temperature, device):

* ``pair`` (and ``pair_2``, … for more samples): ImageSeries ``(2, z, y, x)`` HU on the input grid, frame 0 the
  synthetic ED, frame 1 the given ES — an annotated training pair;
* ``flow`` (``flow_2``, …): DisplacementSeries ``(2, 3, z, y, x)`` LPS mm, reference frame 0 (ED): frame 1 moves
  the material at each ED voxel to its ES position, ``ED(x) = ES(x + u(x))`` — the pair's ground truth;
* ``ed_samples``: ImageSeries ``(samples, z, y, x)`` of all synthetic ED volumes (a sequence to browse).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..data import DisplacementSeries, Geometry, ImageSeries, Segmentation
from ..errors import CardioGenInputError
from . import Input, Option, Output, Pipeline, Progress, register_pipeline

#: HU range of contrast-filled blood used by :func:`find_heart`, and the smallest chamber volume (mL) it accepts.
BLOOD_HU = (150.0, 900.0)
MIN_HEART_ML = 40.0
#: A region found from the contrast (ventricles, atria, great vessels) must lie this much inside the model's cube.
MIN_FOUND_INSIDE = 0.9


def find_heart(hu: np.ndarray, geometry: Geometry, source: str = "CT") -> np.ndarray:
    """Bool ``(z, y, x)`` mask of the contrast-filled heart chambers of a CT volume ``(z, y, x)`` in HU: the largest
    connected region in :data:`BLOOD_HU` after a 3 mm opening (which cuts thin bone and vessels off it), closed and
    filled. Raises :class:`CardioGenInputError` when no region of :data:`MIN_HEART_ML` or more exists (a CT without
    a contrast-filled heart in view: give a heart mask)."""
    from scipy import ndimage

    sp = np.asarray(geometry.spacing, dtype=float)  # (x, y, z) mm
    blood = (hu >= BLOOD_HU[0]) & (hu <= BLOOD_HU[1])
    r = np.maximum(1, np.round(1.5 / sp[::-1])).astype(int)  # (z, y, x) voxels of a ~3 mm ball
    ball = np.ones(tuple(2 * r + 1), dtype=bool)
    opened = ndimage.binary_opening(blood, structure=ball)
    labels, n = ndimage.label(opened)
    voxel_ml = float(np.prod(sp)) / 1000.0
    if n == 0:
        raise CardioGenInputError("no contrast-filled heart found in the CT: give a heart mask (input 'heart')",
                                  source=source, expected=f"a region of {BLOOD_HU[0]:g}-{BLOOD_HU[1]:g} HU of "
                                                          f">= {MIN_HEART_ML:g} mL", got="none")
    sizes = ndimage.sum(opened, labels, range(1, n + 1))
    best = int(np.argmax(sizes))
    if sizes[best] * voxel_ml < MIN_HEART_ML:
        raise CardioGenInputError("no contrast-filled heart found in the CT: give a heart mask (input 'heart')",
                                  source=source, expected=f"a region of {BLOOD_HU[0]:g}-{BLOOD_HU[1]:g} HU of "
                                                          f">= {MIN_HEART_ML:g} mL",
                                  got=f"largest {sizes[best] * voxel_ml:.1f} mL")
    heart = ndimage.binary_closing(labels == best + 1, structure=ball)
    return ndimage.binary_fill_holes(heart)


def sample_world(volume: np.ndarray, src: Geometry, dst: Geometry, shape: tuple, cval: float,
                 offset_mm: np.ndarray | None = None, order: int = 1) -> np.ndarray:
    """``volume`` ``(z, y, x)`` or ``(c, z, y, x)`` on grid ``src`` sampled at the voxel centres of ``dst`` (``shape``
    (z, y, x)), each moved by ``offset_mm`` ``(3, z, y, x)`` LPS when given; ``cval`` outside ``src``. The sample
    positions are computed once for all channels."""
    from scipy import ndimage

    idx = np.indices(shape).reshape(3, -1).astype(float)
    world = dst.index_to_world() @ np.stack([idx[2], idx[1], idx[0], np.ones(idx.shape[1])])
    if offset_mm is not None:
        world[:3] += offset_mm.reshape(3, -1)
    s = src.world_to_index() @ world  # (x, y, z, 1) indices in the source grid
    vol = np.asarray(volume, dtype=np.float32)
    channels = vol.reshape((-1,) + vol.shape[-3:])
    out = np.stack([ndimage.map_coordinates(c, [s[2], s[1], s[0]], order=order, mode="constant", cval=cval)
                    .reshape(shape) for c in channels])
    return out.reshape(vol.shape[:-3] + tuple(shape))


def _mask_on_grid(heart: Segmentation, geometry: Geometry, shape: tuple, frame: int) -> np.ndarray:
    """The mask's non-zero voxels (its frame ``frame``, or its only one) on another grid, by world position."""
    lab = np.asarray(heart.labels)
    src = lab[min(frame if lab.shape[0] > 1 else 0, lab.shape[0] - 1)] > 0
    mask = sample_world(src, heart.geometry, geometry, shape, cval=0.0, order=0) > 0.5
    if not mask.any():
        raise CardioGenInputError("the heart mask does not overlap the CT", source="heart mask",
                                  expected="a mask on or over the CT's field of view", got="no overlap")
    return mask


@register_pipeline
class CtMotionPipeline(Pipeline):
    name = "ct_motion"
    title = "CT motion from systole (seed 004)"
    description = ("Synthetic end-diastolic CT volumes with their exact flow from one end-systolic CT: a CVAE of 3D "
                   "flow fields conditioned on the ES volume's frozen flow-network features (seed 004).")
    inputs = (Input("ct", "ImageSeries", modalities=("ct",), help="CT volume or 4D CT (the ES phase is used)"),
              Input("heart", "Segmentation", required=False,
                    help="heart mask (any non-zero label); default: found from the contrast-filled chambers"))
    outputs = (Output("pair", "ImageSeries", help="synthetic ED (frame 0) and the given ES (frame 1)"),
               Output("flow", "DisplacementSeries", help="exact displacement ED -> ES of the pair (mm)"),
               Output("ed_samples", "ImageSeries", help="every synthetic ED volume, one per frame"))
    options = (Option("samples", 1, minimum=1, maximum=16, help="number of synthetic ED volumes"),
               Option("seed", 0, minimum=0),
               Option("phase", -1, minimum=-1, help="ES phase of a 4D CT (-1: the one the file records)"),
               Option("temperature", 1.0, minimum=0.0, maximum=2.0, help="scale of the latent samples"),
               Option("prior", "auto", choices=("auto", "normal"),
                      help="latent prior: the model's fitted aggregated posterior (auto) or N(0, I) as in the seed"))
    synthetic_outputs = True

    def _load(self) -> None:
        from ..device import resolve_device
        from ..models.ct_motion import load_cvae
        from ..weights import Registry

        registry = Registry()
        entry = registry.get(self.weights) if self.weights else registry.default_for("ct_motion")
        if not entry.geometry or not entry.geometry.get("pixel_mm") or not entry.geometry.get("matrix"):
            raise CardioGenInputError("the CT motion model does not record its grid (registry 'geometry')",
                                      source=f"registry model '{entry.id}'")
        self.device_ = str(resolve_device(self.device))
        self.model = load_cvae(entry.id).to(self.device_).eval()
        self.entry = entry

    # ------------------------------------------------------------------------------------------------------------
    def _es_phase(self, ct: ImageSeries, phase: int) -> int:
        n = ct.array.shape[0]
        if phase >= 0:
            if phase >= n:
                raise CardioGenInputError("ES phase out of range", source=ct.description or "CT",
                                          expected=f"0..{n - 1}", got=phase)
            return phase
        if n == 1:
            return 0
        recorded = (ct.metadata or {}).get("es_frame")
        if recorded is None:
            raise CardioGenInputError("the 4D CT does not record its end-systolic phase: choose it (option 'phase')",
                                      source=ct.description or "CT", expected=f"0..{n - 1}", got="none recorded")
        return int(recorded)

    def model_grid(self, geometry: Geometry, heart: np.ndarray, *, found: bool = False) -> Geometry:
        """The model's cube (registry voxel and matrix) in the input's orientation, centred on the heart mask's box
        (refused unless the whole mask fits, with a margin), or — for a region ``found`` from the contrast, which
        takes in atria and great vessels — on its centroid (refused unless :data:`MIN_FOUND_INSIDE` of it fits)."""
        n = int(self.entry.geometry["matrix"])
        s = float(self.entry.geometry["pixel_mm"])
        idx = np.argwhere(heart)[:, ::-1].astype(float)  # (x, y, z) indices
        sp = np.asarray(geometry.spacing, dtype=float)
        d = np.asarray(geometry.direction, dtype=float)
        if found:
            centre = idx.mean(axis=0)
        else:
            lo, hi = idx.min(axis=0), idx.max(axis=0)
            extent = (hi - lo + 1) * sp
            if np.any(extent > 0.95 * n * s):
                raise CardioGenInputError("the heart is larger than the model's field of view",
                                          expected=f"<= {0.95 * n * s:.0f} mm per axis ({n} voxels of {s:.2f} mm)",
                                          got=f"{extent.round(0).tolist()} mm")
            centre = (lo + hi) / 2.0
        centre_world = (geometry.index_to_world() @ np.append(centre, 1.0))[:3]
        origin = centre_world - d @ np.full(3, (n - 1) / 2.0 * s)
        grid = Geometry(spacing=(s, s, s), origin=origin, direction=d)
        if found:
            pts = grid.world_to_index() @ geometry.index_to_world() @ np.vstack([idx.T, np.ones(len(idx))])
            inside = float(np.all((pts[:3] >= 0.025 * n) & (pts[:3] <= 0.975 * n - 1), axis=0).mean())
            if inside < MIN_FOUND_INSIDE:
                raise CardioGenInputError(
                    "the contrast-filled region found in the CT does not fit the model's field of view: it takes in "
                    "more than the heart (aorta, atria); give a heart mask (input 'heart')",
                    expected=f">= {MIN_FOUND_INSIDE:.0%} of it inside {n} voxels of {s:.2f} mm",
                    got=f"{inside:.0%}")
        return grid

    def _run(self, inputs: dict, options: dict, progress: Progress) -> dict:
        import torch

        from ..models.ct_motion import ct_intensity
        from ..progress import report

        ct: ImageSeries = inputs["ct"]
        source = ct.description or str((ct.metadata or {}).get("source_file", "CT"))
        es_index = self._es_phase(ct, int(options["phase"]))
        es = np.asarray(ct.array[es_index], dtype=np.float32)
        geom = ct.geometry
        report(progress, 0.05, "finding the heart")
        heart_in = inputs.get("heart")
        heart = (_mask_on_grid(heart_in, geom, es.shape, es_index) if heart_in is not None
                 else find_heart(es, geom, source))
        try:
            grid = self.model_grid(geom, heart, found=heart_in is None)
        except CardioGenInputError as err:
            raise CardioGenInputError(err.problem, source=source, expected=err.expected, got=err.got) from err

        n = int(self.entry.geometry["matrix"])
        background = float(np.percentile(es, 1))
        es_model = sample_world(es, geom, grid, (n, n, n), cval=background)
        t0 = time.time()
        report(progress, 0.2, "sampling flows")
        x = torch.from_numpy(ct_intensity(es_model)[None, None]).to(self.device_)
        g = torch.Generator().manual_seed(int(options["seed"]))
        samples = int(options["samples"])
        with torch.inference_mode():
            z = self.model.draw_latents(self.model.latent_shape((samples, 1, n, n, n)), generator=g,
                                        temperature=float(options["temperature"]), prior=options["prior"])
            flows_vox = self.model.sample(x, z=z.to(self.device_)).cpu().numpy()  # (s, 3, n, n, n) model voxels
        d = np.asarray(grid.direction, dtype=float)
        s_mm = float(grid.spacing[0])
        seconds = time.time() - t0
        times = np.asarray(ct.frame_times, dtype=float) if ct.frame_times is not None else None
        t_es = float(times[es_index]) if times is not None and len(times) > es_index and times[es_index] > 0 else None
        pair_times = np.array([0.0, t_es if t_es is not None else 1.0])
        common = {"weights": self.entry.id, "weights_sha256": self.entry.sha256, "device": self.device_,
                  "temperature": float(options["temperature"]), "es_phase": es_index, "source": source,
                  "latent_prior": ("aggregate posterior" if options["prior"] == "auto" and self.model.has_latent_prior
                                   else "N(0, I)"),
                  "model_grid": {"spacing_mm": s_mm, "matrix": n, "origin": np.asarray(grid.origin).tolist()},
                  "heart_from": "mask input" if heart_in is not None else "find_heart (contrast-filled chambers)",
                  "frame_times": "ms after the R wave" if t_es is not None else "order only (ED 0, ES 1)",
                  "flow_convention": "ED(x) = ES(x + u(x)); u on the synthetic ED grid, LPS mm"}
        out: dict[str, Any] = {}
        eds = []
        for k in range(samples):
            report(progress, 0.3 + 0.65 * k / samples, f"sample {k + 1} of {samples}")
            flow_mm_model = np.einsum("ij,jzyx->izyx", d, flows_vox[k] * s_mm)  # LPS mm on the model grid
            flow_mm = sample_world(flow_mm_model, grid, geom, es.shape, cval=0.0)
            ed = sample_world(es, geom, geom, es.shape, cval=background, offset_mm=flow_mm)
            eds.append(ed)
            prov = dict(common, seed=int(options["seed"]), sample=k)
            suffix = "" if k == 0 else f"_{k + 1}"
            pair = ImageSeries(np.stack([ed, es])[:, :, :, :].astype(np.float32), geometry=geom,
                               frame_times=pair_times, modality="ct",
                               description=f"SYNTHETIC ED + ES CT pair {k + 1} (ct_motion, seed 004)",
                               metadata={"es_frame": 1})
            out["pair" + suffix] = pair.mark_synthetic(self.name, **prov)
            disp = np.zeros((2, 3) + es.shape, dtype=np.float32)
            disp[1] = flow_mm
            out["flow" + suffix] = DisplacementSeries(disp, geometry=geom, frame_times=pair_times, reference_frame=0,
                                                      synthetic=True,
                                                      provenance=dict(prov, pipeline=self.name,
                                                                      description="SYNTHETIC flow ED -> ES"))
        out["ed_samples"] = ImageSeries(np.stack(eds).astype(np.float32), geometry=geom,
                                        frame_times=np.arange(samples, dtype=float), modality="ct",
                                        description=f"SYNTHETIC ED CT samples ({samples}, ct_motion)").mark_synthetic(
            self.name, **dict(common, seed=int(options["seed"]), samples=samples, seconds=round(seconds, 3)))
        report(progress, 1.0, "done")
        return out
