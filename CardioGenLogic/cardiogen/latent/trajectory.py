"""Latent trajectories of seed 002 (Sec. 3.3): videos as paths w(t) through the StyleGAN2 latent space.

All latents are in W+ form ``(..., num_ws, w_dim)``; directions are flattened for the PCA.

* ED→ES direction (3.3.1): k = mean over videos of P(ES) − P(ED).
* Frame-to-frame directions (3.3.2): kᵢ = mean over videos of P(frame i+1) − P(frame i), i = 1 … T−1, smoothed with a
  PCA of K = {kᵢ}: ``smoothing="seed"`` applies the seed's formula k′ = k − PCA⁻¹(PCA(k)) (PCA with
  ``pca_components`` components, centred as scikit-learn's, so PCA⁻¹(PCA(k)) = mean + projection of k − mean);
  ``"lowrank"`` keeps the reconstruction instead (k′ = PCA⁻¹(PCA(k))); ``"none"`` keeps kᵢ. The benchmark compares
  them; the fitted file records which one a video uses by default.
* Start (3.3.3): w(1) = w − 0.7·k for a random w = mapping(z).
* Videos: ED-to-ES goes w(1) + (t/t_es)·k up to the mean ES frame and back to w(1) at the end of the cycle;
  frame-to-frame adds k′ᵢ frame by frame.
* Temporal super-resolution (3.3.4): a video's own transitions tᵢ = w_{i+1} − w_i, optionally smoothed by a per-video
  tPCA with (M − 6) components; w_h = w_1 + Σ_{i<⌊h⌋} tᵢ + (h − ⌊h⌋)·t_⌊h⌋ for fractional frame positions h.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from ..errors import CardioGenInputError

SMOOTHING = ("seed", "lowrank", "none")


def pca_reconstruct(vectors: np.ndarray, components: int) -> np.ndarray:
    """PCA⁻¹(PCA(v)) for every row of ``vectors`` ``(n, d)`` with a PCA fitted on those rows (centred, SVD)."""
    v = np.asarray(vectors, dtype=np.float64)
    mean = v.mean(0, keepdims=True)
    centred = v - mean
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = int(min(components, vt.shape[0]))
    basis = vt[:k]
    return mean + centred @ basis.T @ basis


def smooth_directions(k: np.ndarray, components: int, smoothing: str) -> np.ndarray:
    """Smoothed frame-to-frame directions ``(n, ...)`` (see the module docstring)."""
    if smoothing not in SMOOTHING:
        raise CardioGenInputError("unknown trajectory smoothing", expected=SMOOTHING, got=smoothing)
    if smoothing == "none" or components <= 0:
        return np.asarray(k, dtype=np.float32)
    flat = np.asarray(k, dtype=np.float64).reshape(k.shape[0], -1)
    recon = pca_reconstruct(flat, components)
    out = flat - recon if smoothing == "seed" else recon
    return out.reshape(k.shape).astype(np.float32)


@dataclass
class Trajectories:
    """Fitted directions of one generator.

    Attributes:
        k_ed_es: ``(num_ws, w_dim)`` ED→ES direction; ``es_frame``: mean ES frame index of the fitting videos.
        k_f2f_raw: ``(T−1, num_ws, w_dim)`` unsmoothed frame-to-frame directions.
        frames: T; ``pca_components``; ``smoothing``: default smoothing of :meth:`f2f`.
        start_offset: 0.7 (w(1) = w − 0.7 k).
        phenotype_directions: ``{name: (num_ws, w_dim)}`` slider directions (see :mod:`.phenotypes`).
        info: fitting statistics (videos, projection error, phenotype split, ...).
    """

    k_ed_es: np.ndarray
    k_f2f_raw: np.ndarray
    es_frame: float
    frames: int
    pca_components: int = 32
    smoothing: str = "seed"
    start_offset: float = 0.7
    phenotype_directions: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def f2f(self, smoothing: Optional[str] = None) -> np.ndarray:
        return smooth_directions(self.k_f2f_raw, self.pca_components, smoothing or self.smoothing)

    # ---- save / load as safetensors (tensors + JSON metadata) --------------------------------------------------
    def tensors(self) -> dict:
        out = {"k_ed_es": torch.from_numpy(np.ascontiguousarray(self.k_ed_es, dtype=np.float32)),
               "k_f2f_raw": torch.from_numpy(np.ascontiguousarray(self.k_f2f_raw, dtype=np.float32))}
        for name, d in self.phenotype_directions.items():
            out[f"phenotype.{name}"] = torch.from_numpy(np.ascontiguousarray(d, dtype=np.float32))
        return out

    def metadata(self) -> dict:
        return {"es_frame": self.es_frame, "frames": self.frames, "pca_components": self.pca_components,
                "smoothing": self.smoothing, "start_offset": self.start_offset, "info": self.info}

    @classmethod
    def from_tensors(cls, tensors: dict, meta: dict) -> "Trajectories":
        phen = {k.split(".", 1)[1]: v.numpy() for k, v in tensors.items() if k.startswith("phenotype.")}
        return cls(k_ed_es=tensors["k_ed_es"].numpy(), k_f2f_raw=tensors["k_f2f_raw"].numpy(),
                   es_frame=float(meta["es_frame"]), frames=int(meta["frames"]),
                   pca_components=int(meta.get("pca_components", 32)), smoothing=str(meta.get("smoothing", "seed")),
                   start_offset=float(meta.get("start_offset", 0.7)), phenotype_directions=phen,
                   info=dict(meta.get("info", {})))


def fit_trajectories(latent_videos: np.ndarray, es_frames: np.ndarray, *, pca_components: int = 32,
                     smoothing: str = "seed") -> Trajectories:
    """Directions from projected videos ``(N, T, num_ws, w_dim)`` (frame 0 = ED) and their ES frames ``(N,)``."""
    lv = np.asarray(latent_videos, dtype=np.float64)
    if lv.ndim != 4 or lv.shape[1] < 3:
        raise CardioGenInputError("latent videos must be (N, T >= 3, num_ws, w_dim)", got=f"shape {lv.shape}")
    es = np.asarray(es_frames, dtype=int)
    if es.shape != (lv.shape[0],) or es.min() < 1 or es.max() >= lv.shape[1]:
        raise CardioGenInputError("es_frames must be one frame index in 1..T-1 per video", got=es_frames)
    n = np.arange(lv.shape[0])
    k_ed_es = (lv[n, es] - lv[:, 0]).mean(0)
    k_f2f = np.diff(lv, axis=1).mean(0)
    smooth_directions(k_f2f, pca_components, smoothing)  # validates the smoothing name
    return Trajectories(k_ed_es=k_ed_es.astype(np.float32), k_f2f_raw=k_f2f.astype(np.float32),
                        es_frame=float(es.mean()), frames=int(lv.shape[1]), pca_components=int(pca_components),
                        smoothing=smoothing, info={"videos": int(lv.shape[0])})


def start_latent(w: np.ndarray | torch.Tensor, traj: Trajectories) -> torch.Tensor:
    """w(1) = w − 0.7·k_ED→ES for latents ``(B, num_ws, w_dim)`` (or ``(B, w_dim)``, broadcast)."""
    w = torch.as_tensor(np.asarray(w, dtype=np.float32)) if not isinstance(w, torch.Tensor) else w.float()
    k = torch.from_numpy(traj.k_ed_es)
    if w.ndim == 2:
        w = w[:, None, :].expand(-1, k.shape[0], -1)
    return w - traj.start_offset * k.to(w.device)


def path_offsets(steps: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Offsets from the start of the path w(0) → w(0) + Σ steps at fractional ``positions`` (0 … n, in steps)
    for ``steps`` ``(n, L, D)``: w_h − w_0 = Σ_{i<⌊h⌋} stepᵢ + (h − ⌊h⌋)·step_⌊h⌋. Returns float32 ``(len, L, D)``."""
    st = np.asarray(steps, dtype=np.float64)
    n = st.shape[0]
    cum = np.concatenate([np.zeros_like(st[:1]), np.cumsum(st, 0)])  # (n + 1, L, D)
    pos = np.asarray(positions, dtype=np.float64)
    i0 = np.clip(np.floor(pos).astype(int), 0, n - 1)
    frac = (pos - i0)[:, None, None]
    return (cum[i0] + frac * (cum[i0 + 1] - cum[i0])).astype(np.float32)


def video_latents(w1: torch.Tensor, traj: Trajectories, *, method: str = "f2f", frames: Optional[int] = None,
                  smoothing: Optional[str] = None) -> torch.Tensor:
    """Latent videos ``(B, T, num_ws, w_dim)`` from start latents ``w1`` ``(B, num_ws, w_dim)`` (the ED frame).

    method "f2f" (frame-to-frame) or "ed_es" (ED-to-ES); ``frames`` defaults to the fitted T.
    """
    t_total = int(frames or traj.frames)
    if method == "f2f":
        k = traj.f2f(smoothing)  # (T_fit - 1, L, D)
        # a different frame count samples the same cycle's path more or less densely
        offsets = path_offsets(k, np.linspace(0, k.shape[0], t_total))
        return w1[:, None] + torch.from_numpy(offsets).to(w1)[None]
    if method == "ed_es":
        k = torch.from_numpy(traj.k_ed_es).to(w1)
        es = traj.es_frame * (t_total - 1) / max(traj.frames - 1, 1)
        t = np.arange(t_total, dtype=np.float64)
        amount = np.where(t <= es, t / max(es, 1e-6), (t_total - t) / max(t_total - es, 1e-6))
        a = torch.from_numpy(amount.astype(np.float32)).to(w1).view(1, -1, 1, 1)
        return w1[:, None] + a * k[None, None]
    raise CardioGenInputError("unknown trajectory method", expected=("f2f", "ed_es"), got=method)


def super_resolve_latents(ws: np.ndarray | torch.Tensor, positions: np.ndarray, *, drop: int = 6,
                          smoothing: str = "none") -> torch.Tensor:
    """Latents at fractional frame ``positions`` (0-based, 0 … M−1) of one video's latents ``ws`` ``(M, L, D)``.

    smoothing "seed": transitions replaced by t − tPCA⁻¹(tPCA(t)) with M − ``drop`` components (Sec. 3.3.4);
    "lowrank": by the reconstruction; "none": the video's own transitions (piecewise-linear interpolation).
    """
    w = torch.as_tensor(np.asarray(ws, dtype=np.float32)) if not isinstance(ws, torch.Tensor) else ws.float()
    m = w.shape[0]
    if m < 2:
        raise CardioGenInputError("temporal super-resolution needs at least 2 frames", got=m)
    pos = np.asarray(positions, dtype=np.float64)
    if pos.min() < 0 or pos.max() > m - 1:
        raise CardioGenInputError("positions must lie within the video's frames", expected=f"0..{m - 1}",
                                  got=(float(pos.min()), float(pos.max())))
    t = np.diff(w.numpy().astype(np.float64), axis=0)  # (M-1, L, D)
    t = smooth_directions(t, max(m - drop, 0), smoothing) if smoothing != "none" else t.astype(np.float32)
    return torch.from_numpy(w.numpy()[0][None] + path_offsets(t, pos))
