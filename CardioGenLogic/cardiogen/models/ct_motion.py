"""Seed 004 around its networks: CT intensities, the model grid, training pairs, flow estimation and generation.

* :func:`ct_intensity` — HU to the networks' [0, 1] (a soft-tissue/contrast window, -250 to 750 HU).
* :func:`phantom_pair_pool` — phantom ES/ED pairs (:func:`cardiogen.phantom.ct_motion_pair`) with their exact
  flow, normalised, cached per process: the training and evaluation data of both networks.
* :func:`load_flow_estimator`, :func:`load_cvae` — the registered networks.
* :func:`estimate_flow` — the 3D PWC-Net's ED→ES flow of one pair.
* :func:`generate_flows` — the CVAE's flows for one ES volume, and the synthetic ED volumes they give.
* :func:`jacobian_determinant`, :func:`flow_epe` — the checks of the benchmark.

Flow convention (:mod:`cardiogen.models.flow_cvae`): voxels, channels (x, y, z), on the ED grid, pointing into the ES
volume: ``ED(x) = ES(x + f(x))``.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

#: HU window of :func:`ct_intensity` (contrast-filled blood ~300-500 HU, myocardium ~100 HU, fat ~-100 HU).
HU_WINDOW = (-250.0, 750.0)


def ct_intensity(hu: Any) -> np.ndarray:
    """HU ``(...)`` -> float32 intensities in [0, 1] over :data:`HU_WINDOW` (clipped)."""
    lo, hi = HU_WINDOW
    return np.clip((np.asarray(hu, dtype=np.float32) - lo) / (hi - lo), 0.0, 1.0)


@functools.lru_cache(maxsize=4)
def phantom_pair_pool(seeds: tuple[int, ...], size: int) -> tuple:
    """Phantom CT pairs on a ``size``³ grid: tuple of dicts with ``es``, ``ed`` float32 ``(1, n, n, n)`` in [0, 1],
    ``flow`` float32 ``(3, n, n, n)`` voxels (ED grid -> ES), ``mask`` float32 ``(1, n, n, n)`` (moving heart at
    ED), ``es_labels``/``ed_labels`` uint8 ``(n, n, n)``, ``spacing_mm`` and ``seed``."""
    from ..phantom import PhantomConfig
    from ..phantom.ct_pair import ct_motion_pair

    out = []
    for seed in seeds:
        p = ct_motion_pair(int(seed), config=PhantomConfig(ct_size=int(size)))
        out.append({"es": ct_intensity(p.es)[None], "ed": ct_intensity(p.ed)[None], "flow": p.flow_vox,
                    "mask": p.flow_mask[None].astype(np.float32), "es_labels": p.es_labels, "ed_labels": p.ed_labels,
                    "spacing_mm": float(p.geometry.spacing[0]), "seed": int(seed)})
    return tuple(out)


def load_cvae(model_id: str) -> Any:
    """A registered ``ct_cvae`` model, evaluation mode (its pyramid's widths are read from its weights)."""
    from .flow_cvae import FlowCVAE, FlowCVAEConfig
    from ..nets.pwc3d import FeaturePyramid3D
    from ..weights import Registry

    registry = Registry()
    entry = registry.get(model_id)
    state = registry.load_state_dict(entry.id)
    levels = sorted({int(k.split(".")[2]) for k in state if k.startswith("pyramid.stages.")})
    channels = [int(state[f"pyramid.stages.{i}.0.0.weight"].shape[0]) for i in levels]
    model = FlowCVAE(FlowCVAEConfig.from_dict({**entry.config.get("model", {}), "pyramid_channels": channels}),
                     FeaturePyramid3D(tuple(channels)))
    model.load_state_dict(state)
    return model.eval()


def load_flow_estimator(model_id: str) -> Any:
    """A registered ``ct_flow`` model (3D PWC-Net, evaluation mode)."""
    from ..nets.pwc3d import PWC3DConfig, PWCFlow3D
    from ..weights import Registry

    registry = Registry()
    entry = registry.get(model_id)
    model = PWCFlow3D(PWC3DConfig.from_dict(entry.config.get("model", {})))
    model.load_state_dict(registry.load_state_dict(entry.id))
    return model.eval()


def warp_labels(labels: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """The label map ``(z, y, x)`` a flow ``(3, z, y, x)`` (ED grid -> ES) makes of ES labels: warped once, nearest."""
    import torch

    from ..nets.warp import warp

    lab = torch.from_numpy(np.asarray(labels, dtype=np.float32))[None, None]
    with torch.no_grad():
        out = warp(lab, torch.from_numpy(np.asarray(flow, dtype=np.float32))[None], mode="nearest")
    return out[0, 0].numpy()


def lv_ejection_fraction(es_labels: np.ndarray, flow: np.ndarray) -> float:
    """LV ejection fraction (%) of an ES label map ``(z, y, x)`` (1 = LV blood) and a flow ``(3, z, y, x)`` (ED grid
    -> ES): the ED labels are the ES labels warped by the flow (:func:`warp_labels`), EF = (EDV − ESV) / EDV."""
    es_blood = np.asarray(es_labels) == 1
    edv, esv = float((warp_labels(es_blood, flow) > 0).sum()), float(es_blood.sum())
    return 100.0 * (edv - esv) / max(edv, 1.0)


def myocardium_volume_change(es_labels: np.ndarray, flow: np.ndarray) -> float:
    """Relative LV myocardium volume change ED/ES − 1 of the ED labels a flow ``(3, z, y, x)`` makes of ES labels
    ``(z, y, x)`` (2 = LV myocardium; :func:`warp_labels`, as :func:`lv_ejection_fraction`). Counting labels of a
    2-3 voxel wall over-states the change (a voxel half pool, half wall is carried as wall with the pool's
    expansion): a training-time indicator; on the phantom,
    :meth:`cardiogen.phantom.ct_pair.CtMotionPair.synthetic_ed_lv` measures on the exact anatomy."""
    es_myo = np.asarray(es_labels) == 2
    return float((warp_labels(es_myo, flow) > 0).sum()) / max(float(es_myo.sum()), 1.0) - 1.0


def flow_epe(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean endpoint error ``‖pred − true‖`` over voxels (``mask`` ``(z, y, x)`` selects them); flows ``(3, z, y, x)``."""
    e = np.linalg.norm(np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64), axis=0)
    return float(e[np.asarray(mask, bool)].mean()) if mask is not None else float(e.mean())


def jacobian_determinant(flow: np.ndarray) -> np.ndarray:
    """det(I + ∇f) ``(z, y, x)`` of a flow ``(3, z, y, x)`` (voxels, channels x, y, z) by central differences: > 0
    where the map x -> x + f(x) keeps orientation (no folding)."""
    f = np.asarray(flow, dtype=np.float64)
    grads = [np.gradient(f[c], axis=(2, 1, 0)) for c in range(3)]  # d f_c / d(x, y, z)
    j = np.empty(f.shape[1:] + (3, 3))
    for c in range(3):
        for a in range(3):
            j[..., c, a] = grads[c][a] + (1.0 if c == a else 0.0)
    return np.linalg.det(j)


def estimate_flow(model: Any, ed: np.ndarray, es: np.ndarray) -> np.ndarray:
    """The PWC-Net's flow ``(3, n, n, n)`` (voxels) of one pair of normalised volumes ``(1, n, n, n)`` or ``(n, n, n)``."""
    import torch

    a = torch.from_numpy(np.asarray(ed, dtype=np.float32).reshape((1, 1) + np.shape(ed)[-3:]))
    b = torch.from_numpy(np.asarray(es, dtype=np.float32).reshape((1, 1) + np.shape(es)[-3:]))
    with torch.inference_mode():
        return model.eval()(a, b)[0].numpy()


def generate_flows(model: Any, es: np.ndarray, n: int = 1, *, seed: int = 0, temperature: float = 1.0,
                   prior: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """``n`` CVAE flows ``(n, 3, d, h, w)`` for one normalised ES volume and the synthetic ED volumes
    ``(n, d, h, w)`` (the ES warped by each flow); ``prior`` as :meth:`FlowCVAE.draw_latents`."""
    import torch

    from .flow_cvae import synthesise_ed

    x = torch.from_numpy(np.asarray(es, dtype=np.float32).reshape((1, 1) + np.shape(es)[-3:]))
    g = torch.Generator().manual_seed(int(seed))
    with torch.inference_mode():
        flows = model.eval().sample(x, int(n), generator=g, temperature=float(temperature), prior=prior)
        eds = synthesise_ed(x, flows)
    return flows.numpy(), eds[:, 0].numpy()
