"""Motion pipelines: ``register`` (LTMA or classical), ``dense_displacement``, ``strain``."""
from __future__ import annotations

from . import Input, Option, Output, Pipeline, Progress, register_pipeline


@register_pipeline
class RegisterPipeline(Pipeline):
    name = "register"
    title = "Cine registration (LTMA / classical)"
    description = ("Track a cine frame by frame to its reference frame: the learned latent-velocity model LTMA "
                   "(seed 000) or a SimpleITK baseline. Returns the Lagrangian displacement in mm. LTMA runs on the "
                   "grid its weights were trained for (pixel size and frame count from the registry): the cine is "
                   "resampled there and the displacement back to the cine's pixels, frames and mm.")
    inputs = (Input("cine", "ImageSeries", ("cine", "tagging", "mr", "dense_mag", "other"),
                    help="series of frames (t, z, y, x)"),)
    outputs = (Output("displacement", "DisplacementSeries"),)
    options = (Option("method", "ltma", choices=("ltma", "demons", "bspline")),
               Option("reference", 0, minimum=0, help="reference frame (end-diastole)"),
               Option("precision", "auto", choices=("auto", "float32", "bfloat16"),
                      help="LTMA arithmetic (auto: bfloat16 on CPUs with native bfloat16, else float32)"))

    def _run(self, inputs: dict, options: dict, progress: Progress) -> dict:
        from ..motion.register import register_classical, register_learned

        if options["method"] == "ltma":
            disp = register_learned(inputs["cine"], weights=self.weights, reference=int(options["reference"]),
                                    device=self.device, precision=options["precision"], progress=progress)
        else:
            disp = register_classical(inputs["cine"], method=options["method"], reference=int(options["reference"]),
                                      progress=progress)
        return {"displacement": disp}


@register_pipeline
class DenseDisplacementPipeline(Pipeline):
    name = "dense_displacement"
    title = "DENSE phase to displacement"
    description = "Phase-offset correction, spatial and temporal unwrapping, ke scaling; Lagrangian displacement."
    inputs = (Input("dense", "DenseSeries"),
              Input("mask", "Segmentation", required=False,
                    help="LV myocardium (else the DENSE contours, else found on the images)"))
    outputs = (Output("displacement", "DisplacementSeries"),)
    options = (Option("refine_mask", False, choices=(False, True)),)

    def _run(self, inputs: dict, options: dict, progress: Progress) -> dict:
        from ..motion.dense import dense_displacement, dense_to_lagrangian, refine_myocardium_mask
        from ..motion.dense_mask import mask_or_auto

        dense = inputs["dense"]
        mask = inputs["mask"].mask("LV myocardium") if "mask" in inputs else None
        if options["refine_mask"]:
            mask = refine_myocardium_mask(dense)
        eul, masks = dense_displacement(dense, mask_or_auto(dense, mask), return_frame_masks=True)
        return {"displacement": dense_to_lagrangian(eul, masks)}


@register_pipeline
class StrainPipeline(Pipeline):
    name = "strain"
    title = "Strain from displacement"
    description = "Green-Lagrange strain (radial, circumferential, longitudinal) in the LV frame with AHA curves."
    inputs = (Input("displacement", "DisplacementSeries"), Input("mask", "Segmentation"))
    outputs = (Output("strain", "StrainSeries"),)
    options = (Option("longitudinal", False, choices=(False, True)),
               Option("smooth_mm", 0.0, minimum=0.0, maximum=20.0))

    def _run(self, inputs: dict, options: dict, progress: Progress) -> dict:
        from ..motion.strain import compute_strain

        seg = inputs["mask"]
        disp = inputs["displacement"]
        myo = seg.mask("LV myocardium")[min(disp.reference_frame, seg.n_frames - 1)]
        strain = compute_strain(disp, myo, longitudinal=bool(options["longitudinal"]),
                                smooth_mm=options["smooth_mm"] or None)
        return {"strain": strain}
