"""A downstream phenotype regressor over cines: the seed 003 (ECGFlowCMR) Table 3 task in miniature.

A compact 2D + temporal CNN reads a cine ``(T, H, W)`` in [-1, 1] (one cardiac cycle, one plane) and predicts three
left-ventricular phenotypes: LVEDV (mL), EF (%) and LV mass (g). Each frame goes through the same small 2D encoder
(four strided convolutions, ``H, W`` → ``H/16, W/16``, spatial mean), a 1D convolution mixes neighbouring frames, and
the mean, maximum, minimum and spread of those features over time feed a two-layer head (the extremes over time are
what an ejection fraction needs: the largest and the smallest cavity).

Training (:func:`fit`): mean-squared error on standardized targets (mean and SD of the *real* training set unless
given), AdamW, a fixed seed, a fixed number of optimisation steps and a fixed batch size — so that training sets of
different sizes (real only, real plus synthetic) get the same budget of gradient steps and samples; light
augmentation (a random intensity gain and offset, shifts of up to ``shift_px`` pixels). :func:`predict` returns the
phenotypes in their units; :func:`regression_metrics` gives MAE and R² per phenotype.

    model = fit(videos, targets, steps=400, seed=0)      # videos (N, T, H, W) in [-1, 1]; targets (N, 3)
    pred = predict(model, test_videos)                    # (M, 3): LVEDV mL, EF %, LV mass g
    regression_metrics(pred, test_targets)                # {"lvedv_ml": {"mae": ..., "r2": ...}, ...}
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import CardioGenInputError

#: the phenotypes predicted, in the order of the target and prediction columns (keys of ``paired_pool``'s truth)
PHENOTYPES = ("lvedv_ml", "ef_pct", "lv_mass_g")
MIN_FRAMES = 2
MIN_SIZE = 16


@dataclass(frozen=True)
class RegressorConfig:
    """Network size and training recipe (the same for every training set a comparison fits)."""

    width: int = 8            #: channels of the first convolution (then 2×, 4×, 4×)
    hidden: int = 64          #: units of the head's hidden layer
    batch: int = 16           #: samples per optimisation step
    lr: float = 2e-3          #: AdamW learning rate (cosine decay to 5 % over the steps)
    weight_decay: float = 1e-4
    shift_px: int = 2         #: largest random shift (pixels, each axis) of the augmentation
    gain: float = 0.1         #: random intensity gain in [1 − gain, 1 + gain] and offset in ±gain / 2


class PhenotypeCNN(nn.Module):
    """Cines ``(B, T, H, W)`` in [-1, 1] → standardized phenotypes ``(B, outputs)``; ``mean`` and ``sd`` (buffers,
    ``(outputs,)``, the targets' units) turn them back into mL / % / g in :func:`predict`."""

    def __init__(self, frames: int, size: tuple[int, int], outputs: int = 3, width: int = 8, hidden: int = 64) -> None:
        super().__init__()
        self.frames, self.size, self.outputs = int(frames), (int(size[0]), int(size[1])), int(outputs)
        w = int(width)
        chans = (1, w, 2 * w, 4 * w, 4 * w)
        layers: list[nn.Module] = []
        for i in range(4):
            k = 5 if i == 0 else 3
            layers += [nn.Conv2d(chans[i], chans[i + 1], k, stride=2, padding=k // 2),
                       nn.GroupNorm(min(4, chans[i + 1]), chans[i + 1]), nn.SiLU()]
        self.encoder = nn.Sequential(*layers)
        c = chans[-1]
        self.temporal = nn.Sequential(nn.Conv1d(c, c, 3, padding=1, padding_mode="circular"), nn.SiLU())
        self.head = nn.Sequential(nn.Linear(4 * c, hidden), nn.SiLU(), nn.Linear(hidden, outputs))
        self.register_buffer("mean", torch.zeros(outputs))
        self.register_buffer("sd", torch.ones(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, h, w = x.shape
        f = self.encoder(x.reshape(b * t, 1, h, w)).mean(dim=(2, 3))        # (B·T, C)
        f = f.reshape(b, t, -1).transpose(1, 2)                             # (B, C, T)
        f = f + self.temporal(f)                                            # the cycle is periodic: circular padding
        stats = torch.cat([f.mean(2), f.amax(2), f.amin(2), f.std(2, unbiased=False)], dim=1)
        return self.head(stats)


def _check_videos(videos: np.ndarray, name: str, shape: Optional[tuple[int, int, int]] = None) -> np.ndarray:
    """``videos`` as float32 ``(N, T, H, W)``; refused with what was expected and what arrived."""
    arr = np.asarray(videos)
    if arr.ndim != 4 or arr.shape[0] < 1:
        raise CardioGenInputError("cines must be a stack of one-plane cine loops", source=name,
                                  expected="array (N, T, H, W) with N >= 1", got=f"shape {arr.shape}")
    if shape is not None and tuple(arr.shape[1:]) != tuple(shape):
        raise CardioGenInputError("cines differ in frames or size from those the regressor was trained on",
                                  source=name, expected=f"(N, {shape[0]}, {shape[1]}, {shape[2]})",
                                  got=f"shape {arr.shape}")
    if arr.shape[1] < MIN_FRAMES or min(arr.shape[2:]) < MIN_SIZE:
        raise CardioGenInputError("cines too short or too small for the regressor", source=name,
                                  expected=f"T >= {MIN_FRAMES} frames and H, W >= {MIN_SIZE} pixels",
                                  got=f"shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise CardioGenInputError("cines hold non-finite or non-numeric values", source=name,
                                  expected="finite intensities in [-1, 1]", got=str(arr.dtype))
    return np.ascontiguousarray(arr, dtype=np.float32)


def _check_targets(targets: np.ndarray, n: int, name: str = "targets") -> np.ndarray:
    y = np.asarray(targets, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n:
        raise CardioGenInputError("targets must have one row per cine", source=name,
                                  expected=f"array ({n}, outputs)", got=f"shape {np.asarray(targets).shape}")
    if not np.all(np.isfinite(y)):
        raise CardioGenInputError("targets hold non-finite values", source=name, expected="finite phenotypes",
                                  got="NaN or inf")
    return y


def _augment(x: torch.Tensor, gen: torch.Generator, cfg: RegressorConfig) -> torch.Tensor:
    """Random intensity gain / offset per cine and a random integer shift (edge-padded) per cine."""
    b = x.shape[0]
    gain = 1.0 + cfg.gain * (2.0 * torch.rand(b, 1, 1, 1, generator=gen) - 1.0)
    offset = 0.5 * cfg.gain * (2.0 * torch.rand(b, 1, 1, 1, generator=gen) - 1.0)
    x = x * gain + offset
    s = int(cfg.shift_px)
    if s <= 0:
        return x
    h, w = x.shape[2:]
    padded = F.pad(x, (s, s, s, s), mode="replicate")
    shifts = torch.randint(0, 2 * s + 1, (b, 2), generator=gen)
    return torch.stack([padded[i, :, int(dy):int(dy) + h, int(dx):int(dx) + w]
                        for i, (dy, dx) in enumerate(shifts.tolist())])


def fit(videos: np.ndarray, targets: np.ndarray, steps: int = 400, seed: int = 0,
        config: RegressorConfig = RegressorConfig(),
        target_stats: Optional[tuple[Sequence[float], Sequence[float]]] = None) -> PhenotypeCNN:
    """Train a :class:`PhenotypeCNN` on cines ``videos`` ``(N, T, H, W)`` in [-1, 1] and ``targets`` ``(N, K)``
    (phenotypes in their units, e.g. the :data:`PHENOTYPES` columns in mL, %, g).

    ``steps`` optimisation steps of ``config.batch`` cines each, drawn without replacement within an epoch by a
    generator seeded with ``seed`` (so the budget is the same whatever N is); ``target_stats`` = (mean, sd) per
    column standardizes the targets (default: the mean and SD of ``targets``; a benchmark that mixes synthetic cines
    into the training set passes the real set's). Returns the model in eval mode on the CPU.
    """
    if steps < 1:
        raise CardioGenInputError("the regressor needs at least one optimisation step", source="steps",
                                  expected=">= 1", got=steps)
    x = _check_videos(videos, "videos")
    y = _check_targets(targets, len(x))
    if target_stats is None:
        mean, sd = y.mean(0), y.std(0)
    else:
        mean, sd = (np.asarray(v, dtype=float).reshape(-1) for v in target_stats)
        if mean.shape != (y.shape[1],) or sd.shape != (y.shape[1],):
            raise CardioGenInputError("target_stats must give one mean and one SD per target column",
                                      source="target_stats", expected=f"two arrays ({y.shape[1]},)",
                                      got=f"{mean.shape} and {sd.shape}")
    sd = np.where(sd > 1e-8, sd, 1.0)
    torch.manual_seed(int(seed))
    gen = torch.Generator().manual_seed(int(seed))
    model = PhenotypeCNN(x.shape[1], x.shape[2:], y.shape[1], config.width, config.hidden)
    model.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
    model.sd.copy_(torch.as_tensor(sd, dtype=torch.float32))
    xt = torch.from_numpy(x)
    yt = torch.as_tensor((y - mean) / sd, dtype=torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=int(steps), eta_min=0.05 * config.lr)
    model.train()
    order = torch.randperm(len(x), generator=gen)
    pos = 0
    for _ in range(int(steps)):
        if pos + config.batch > len(x):
            order, pos = torch.randperm(len(x), generator=gen), 0
        idx = order[pos:pos + config.batch]
        pos += config.batch
        loss = F.mse_loss(model(_augment(xt[idx], gen, config)), yt[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


@torch.no_grad()
def predict(model: PhenotypeCNN, videos: np.ndarray, batch: int = 32) -> np.ndarray:
    """Phenotypes ``(N, K)`` in the targets' units (mL, %, g) of cines ``(N, T, H, W)`` shaped like the training
    ones."""
    x = _check_videos(videos, "videos", (model.frames, *model.size))
    model.eval()
    out = [model(torch.from_numpy(x[i:i + batch])) for i in range(0, len(x), batch)]
    return (torch.cat(out) * model.sd + model.mean).numpy().astype(float)


def regression_metrics(predicted: np.ndarray, truth: np.ndarray,
                       names: Sequence[str] = PHENOTYPES) -> dict[str, dict[str, float]]:
    """MAE (the column's units) and R² = 1 − Σ(ŷ − y)² / Σ(y − ȳ)² (ȳ: the mean of ``truth``; 0 for the mean
    predictor, negative when worse) per column of ``predicted`` and ``truth`` ``(N, K)``, keyed by ``names``."""
    p, t = np.asarray(predicted, dtype=float), np.asarray(truth, dtype=float)
    p, t = (a[:, None] if a.ndim == 1 else a for a in (p, t))  # one phenotype may come as (N,)
    if p.shape != t.shape or p.ndim != 2 or len(p) < 2:
        raise CardioGenInputError("predictions and truth must be matching (N, K) arrays with N >= 2",
                                  source="regression_metrics", expected=f"two arrays of shape {t.shape}",
                                  got=f"{p.shape} and {t.shape}")
    if len(names) != p.shape[1]:
        raise CardioGenInputError("one name per column is needed", source="names", expected=p.shape[1],
                                  got=len(names))
    out = {}
    for j, name in enumerate(names):
        err = p[:, j] - t[:, j]
        ss_tot = float(np.sum((t[:, j] - t[:, j].mean()) ** 2))
        out[str(name)] = {"mae": float(np.mean(np.abs(err))),
                          "r2": 1.0 - float(np.sum(err ** 2)) / ss_tot if ss_tot > 0 else float("nan")}
    return out
