"""Tagging pipelines (seed 001, chapter 4): ``tag_tracking`` (tagging + ED landmarks -> tracked landmarks and
landmark strain), ``cine_to_tagging`` and ``tagging_to_cine`` (the smcVAE, one short-axis slice).

The smcVAE sees one slice's sequence cropped to its training crop around the LV (the centroid of ED landmarks, or of
the LV in an ED segmentation); the result is that crop, as its own image series placed where it was cut out (the
crop's geometry), intensities in [0, 1] (the sequence normalised to its 1st-99th percentiles), marked synthetic. A
sequence the weights were not trained for (another frame count, a pixel size outside the trained range) is refused
with the reason.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..data import Geometry, ImageSeries, LandmarkSeries, Segmentation
from ..errors import CardioGenInputError
from ..progress import report
from . import Input, Option, Output, Pipeline, Progress, register_pipeline


@register_pipeline
class TagTrackingPipeline(Pipeline):
    name = "tag_tracking"
    title = "Tag tracking and landmark strain (tagging)"
    description = ("Carry myocardial landmarks through a tagged short-axis sequence with the learned CNN + RNN tracker "
                   "(seed 001, chapter 4; by default the weights trained for the sequence's pixel size) and compute "
                   "strain from them: "
                   "Green-Lagrange ½(L²−L₀²)/L₀² and engineering (L−L₀)/L₀, circumferential along each ring and "
                   "radial endo to epi. Frame 0 is end-diastole, where the tags were written.")
    inputs = (Input("tagging", "ImageSeries", ("tagging",), help="tagged short-axis sequence (t, z, y, x)"),
              Input("landmarks", "LandmarkSeries",
                    help="ED landmarks (LPS mm) on one slice, with layer (endo/mid/epi) and sector labels"))
    outputs = (Output("landmarks", "LandmarkSeries", help="the landmarks in every frame"),
               Output("strain", "LandmarkStrain", help="strain curves per layer, sector and AHA segment"))
    options = (Option("slice", -1, minimum=-1, help="slice index of the landmarks (-1: the one they lie in)"),)

    def _run(self, inputs: dict, options: dict, progress: Progress) -> dict:
        from ..models.tag_tracking import track_landmarks
        from ..motion.landmarks import landmark_strain_series

        report(progress, 0.1, "tracking landmarks")
        z = None if int(options["slice"]) < 0 else int(options["slice"])
        tracked = track_landmarks(inputs["tagging"], inputs["landmarks"], z_index=z, weights=self.weights)
        report(progress, 0.8, "strain")
        return {"landmarks": tracked, "strain": landmark_strain_series(tracked)}


def lv_centre(series: ImageSeries, landmarks: Optional[LandmarkSeries], mask: Optional[Segmentation],
              z_index: int) -> tuple[int, np.ndarray]:
    """(slice index, LV centre (x, y) pixels) from ED landmarks on one slice, else from an ED segmentation's LV (blood
    pool and myocardium) on ``z_index`` (-1: the slice with the most LV)."""
    from ..models.tag_tracking import landmark_slice

    if landmarks is not None:
        z, px = landmark_slice(series, landmarks, None if z_index < 0 else z_index)
        return z, px.mean(axis=0)
    if mask is None:
        raise CardioGenInputError("the crop around the LV needs ED landmarks or an LV segmentation",
                                  expected="input 'landmarks' or 'mask'")
    if mask.labels.shape[1:] != series.shape[1:]:
        raise CardioGenInputError("the segmentation is not on the series' grid", expected=series.shape[1:],
                                  got=mask.labels.shape[1:])
    lv = mask.mask("LV blood pool")[0] | mask.mask("LV myocardium")[0]
    z = int(np.argmax(lv.sum(axis=(1, 2)))) if z_index < 0 else z_index
    if not 0 <= z < lv.shape[0] or not lv[z].any():
        raise CardioGenInputError("no LV in the segmentation on that slice", got=f"slice {z}")
    yy, xx = np.nonzero(lv[z])
    return z, np.array([xx.mean(), yy.mean()])


class _SmcVAEPipeline(Pipeline):
    source = ""
    target = ""
    synthetic_outputs = True
    options = (Option("slice", -1, minimum=-1, help="short-axis slice (-1: from the landmarks or the segmentation)"),)

    def _load(self) -> None:
        from ..models.cine_tagging import load_smcvae

        self.model, self.entry = load_smcvae(self.weights or "smcvae-phantom-64")

    def _run(self, inputs: dict, options: dict, progress: Progress) -> dict:
        import torch

        from ..models.cine_tagging import from_model, to_model
        from ..models.tag_tracking import check_grid, crop_box, crop_frames, normalise

        series = inputs[self.source]
        check_grid(series, self.entry, name="smcVAE", frames_why="")
        z, centre = lv_centre(series, inputs.get("landmarks"), inputs.get("mask"), int(options["slice"]))
        crop = int(self.model.cfg.size)
        y0, x0 = crop_box(centre[None], series.shape[2:], crop)
        frames = np.clip(crop_frames(normalise(series.array[:, z]), y0, x0, crop), 0.0, 1.0)
        report(progress, 0.3, f"{self.source} -> {self.target}")
        with torch.no_grad():
            x = to_model(torch.from_numpy(frames)[None])
            out = from_model(self.model.translate({self.source: x}, self.target)).clamp(0, 1)[0].numpy()
        g = series.geometry
        m = g.index_to_world()
        geom = Geometry(spacing=g.spacing, origin=tuple((m @ np.array([x0, y0, z, 1.0]))[:3]), direction=g.direction)
        result = ImageSeries(out[:, None].astype(np.float32), geometry=geom, frame_times=series.frame_times,
                             modality=self.target,
                             description=f"{self.target} from {self.source} (smcVAE {self.entry.id}, slice {z})")
        report(progress, 0.9, "done")
        return {self.target: result.mark_synthetic(self.name, weights=self.entry.id,
                                                   weights_sha256=self.entry.sha256, slice=z,
                                                   crop_origin_px=[int(x0), int(y0)], source=self.source)}


@register_pipeline
class CineToTaggingPipeline(_SmcVAEPipeline):
    name = "cine_to_tagging"
    title = "Cine → tagging (smcVAE)"
    description = ("Synthesise the tagged sequence of one short-axis cine slice with the smcVAE (seed 001, chapter 4): "
                   "the cine's latent decoded by the tagging decoder. The crop around the LV comes from ED landmarks "
                   "or an LV segmentation. Track it with tag_tracking to measure strain from cine alone.")
    source, target = "cine", "tagging"
    inputs = (Input("cine", "ImageSeries", ("cine",), help="short-axis cine (t, z, y, x)"),
              Input("landmarks", "LandmarkSeries", required=False, help="ED landmarks on the slice (LV centre)"),
              Input("mask", "Segmentation", required=False, help="ED LV segmentation (LV centre), if no landmarks"))
    outputs = (Output("tagging", "ImageSeries", help="SYNTHETIC tagging of the slice's crop"),)


@register_pipeline
class TaggingToCinePipeline(_SmcVAEPipeline):
    name = "tagging_to_cine"
    title = "Tagging → cine (smcVAE)"
    description = ("Synthesise the cine of one tagged short-axis slice with the smcVAE (seed 001, chapter 4): the "
                   "tagging's latent decoded by the cine decoder; crop as cine_to_tagging.")
    source, target = "tagging", "cine"
    inputs = (Input("tagging", "ImageSeries", ("tagging",), help="tagged short-axis sequence (t, z, y, x)"),
              Input("landmarks", "LandmarkSeries", required=False, help="ED landmarks on the slice (LV centre)"),
              Input("mask", "Segmentation", required=False, help="ED LV segmentation (LV centre), if no landmarks"))
    outputs = (Output("cine", "ImageSeries", help="SYNTHETIC cine of the slice's crop"),)
