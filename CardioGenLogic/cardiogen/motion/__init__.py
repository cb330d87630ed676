"""Motion and deformation: strain from displacement fields and landmarks, AHA segments, DENSE phase -> displacement.

* :mod:`.strain`: deformation gradient, Green-Lagrange strain in the LV frame (radial, circumferential,
  longitudinal), landmark strain, peaks, bullseye raster, curve CSV.
* :mod:`.aha`: AHA 16-segment labels per voxel and segment means.
* :mod:`.dense`: DENSE phase-offset correction, spatial and temporal unwrapping, Eulerian -> Lagrangian.
* :mod:`.dense_mask`: the LV myocardium found on DENSE images (no contours), and a phase-coherence check of masks.
* :mod:`.register` (cine registration) is not imported here; import it explicitly.

Conventions (LV long axis apex -> base, slice 0 = base, angles θ = atan2(−y, x) with the septum at 180°) are in the
docstrings of :mod:`.strain` and :mod:`.aha`.
"""
from .aha import AHA_NAMES, N_SEGMENTS, aha_segments, segment_means
from .dense import (dense_displacement, dense_frame_masks, dense_strain, dense_to_lagrangian, estimate_phase_offset,
                    unwrap_spatial, unwrap_temporal)
from .dense_mask import detect_myocardium, mask_phase_coherence
from .strain import (bullseye_image, compute_strain, deformation_gradient, green_lagrange, landmark_strain, lv_frame,
                     peak_values, radial_circumferential, radial_circumferential_pairs, write_curves_csv)

__all__ = [
    "AHA_NAMES", "N_SEGMENTS", "aha_segments", "segment_means",
    "dense_displacement", "dense_frame_masks", "dense_strain", "dense_to_lagrangian", "estimate_phase_offset",
    "unwrap_spatial", "unwrap_temporal", "detect_myocardium", "mask_phase_coherence",
    "bullseye_image", "compute_strain", "deformation_gradient", "green_lagrange", "landmark_strain", "lv_frame",
    "peak_values", "radial_circumferential", "radial_circumferential_pairs", "write_curves_csv",
]
