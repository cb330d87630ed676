"""Phenotypes measured on (generated) four-chamber frames, and the phenotype directions ("sliders") of seed 002 Sec. 3.4.

Measurement uses the segmentation of the four-chamber cardiac feature network (``cardiac-features-lax-64``) as soft
class probabilities, so the values change continuously with the image:

* ``lv_area``: LV blood-pool area, percent of the frame (× field of view² / 100 gives mm² when it is known);
* ``sphericity``: LV cavity width / length = √(λmin/λmax) of the probability-weighted second moments of the blood
  pool (the long-axis analogue of the phantom's SAX diameter / LAX length);
* ``myo_thickness``: LV myocardium area / endocardial border length (pixels of the network grid), the mean wall
  thickness; the border length is the total variation of the blood-pool probability;
* per video ``ef_area``: fractional area change of the LV blood pool, 100 · (max − min) / max (%), the 2D
  analogue of the ejection fraction, measured on a 16-frame frame-to-frame video from the latent.

Direction (slider) for a phenotype: sample latents, take the ED start latent w(1) of each, measure the phenotype on
its frame, split at the mean into low and high, k = mean(high latents) − mean(low latents); a slider value c moves a
latent to w + c·k (c ∈ [−2, 3] in the seed).

Physical units (:data:`PHENOTYPE_UNITS`, :func:`physical_phenotypes`): the measurement grid's pixel is the
generator's field of view (``resolution × pixel_mm``) over the feature network's size, so ``lv_area`` becomes cm²
and ``myo_thickness`` mm; sphericity is a ratio and ``ef_area`` already a percentage. A 2D four-chamber frame gives
no volume, so no phenotype is in mL. :class:`SliderScale` maps a slider's c to the phenotype value measured on
one heart at a few c, so a slider can be shown in those units.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import CardioGenInputError
from ..progress import report

FRAME_PHENOTYPES = ("lv_area", "sphericity", "myo_thickness")
VIDEO_PHENOTYPES = ("ef_area",)
LATENT_PHENOTYPES = FRAME_PHENOTYPES + VIDEO_PHENOTYPES
EF_FRAMES = 16  #: frames of the (frame-to-frame) videos on which the fractional area change is measured
VIDEO_SAMPLES = 1000  #: generated videos (at most) for the video phenotypes' directions
SLIDER_RANGE = (-2.0, 3.0)
SCALE_POINTS = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0)  #: slider values at which a heart is measured for its SliderScale


@dataclass(frozen=True)
class PhenotypeUnit:
    """How a phenotype is shown: its label, unit (empty for a ratio) and decimals."""

    label: str
    unit: str
    decimals: int

    def text(self, value: float) -> str:
        """``"42.6 cm²"``: the value with this unit's decimals."""
        return f"{value:.{self.decimals}f}" + (f" {self.unit}" if self.unit else "")


PHENOTYPE_UNITS = {
    "lv_area": PhenotypeUnit("LV area", "cm²", 1),
    "sphericity": PhenotypeUnit("Sphericity (width/length)", "", 2),
    "myo_thickness": PhenotypeUnit("Myocardial thickness", "mm", 1),
    "ef_area": PhenotypeUnit("Fractional area change", "%", 0),
}


def physical_phenotypes(values: dict, fov_mm: float, grid: int) -> dict:
    """Measured phenotypes (as :func:`measure_frames` / :func:`measure_video_phenotypes` give them) in physical units:
    ``lv_area`` (% of the frame) → cm², ``myo_thickness`` (pixels of the measurement grid) → mm; the others as they
    are. ``fov_mm``: the frame's field of view (mm, square); ``grid``: the measurement grid's size (pixels)."""
    if not (fov_mm > 0 and grid > 0):
        raise CardioGenInputError("field of view and grid size must be positive", got=(fov_mm, grid))
    out = {}
    for name, v in values.items():
        v = np.asarray(v, dtype=np.float64)
        if name == "lv_area":
            v = v / 100.0 * fov_mm ** 2 / 100.0  # % of the frame -> mm² -> cm²
        elif name == "myo_thickness":
            v = v * fov_mm / grid  # grid pixels -> mm
        out[name] = v if v.ndim else float(v)
    return out


@dataclass(frozen=True)
class SliderScale:
    """A slider's c ↔ the phenotype value (physical units) measured on one heart, piecewise linear between the
    slider values :data:`SCALE_POINTS` where it was measured.

    Only the run of points around c = 0 over which the phenotype moves one way is kept (``cs``, ``values``): past
    it the direction stops changing the phenotype that way (the LV area of the shipped generator falls again beyond
    c ≈ 2), so the slider offers the values it can reach and no value twice. A run of one point is not
    :attr:`usable`: the slider then stays in c.
    """

    name: str
    cs: tuple
    values: tuple

    @property
    def unit(self) -> PhenotypeUnit:
        return PHENOTYPE_UNITS.get(self.name, PhenotypeUnit(self.name, "", 2))

    @property
    def usable(self) -> bool:
        return len(self.cs) >= 2

    @property
    def at_zero(self) -> float:
        return float(self.values[self.cs.index(0.0)])

    def value(self, c: float) -> float:
        """The value expected at slider value ``c`` (clipped to the run)."""
        return float(np.interp(float(c), self.cs, self.values))

    def range(self) -> tuple[float, float]:
        """(low, high) of the values the slider reaches."""
        return (min(self.values), max(self.values))

    def display_decimals(self, min_steps: int = 20) -> int:
        """Display decimals: the unit's, or more until the range spans at least ``min_steps`` steps."""
        low, high = self.range()
        dec = self.unit.decimals
        while dec < 4 and (high - low) * 10.0 ** dec < min_steps:
            dec += 1
        return dec

    def c(self, value: float, decimals: Optional[int] = None) -> float:
        """The slider value c giving ``value`` (clipped to the run); with ``decimals`` (the slider's display
        precision) a value that shows as the unmoved heart's gives exactly 0."""
        if decimals is not None and abs(float(value) - round(self.at_zero, decimals)) <= 0.5 * 10.0 ** -decimals:
            return 0.0
        cs, vs = np.asarray(self.cs), np.asarray(self.values)
        if vs[-1] < vs[0]:
            cs, vs = cs[::-1], vs[::-1]
        return float(np.interp(float(value), vs, cs))

    @classmethod
    def fit(cls, name: str, cs: Sequence[float], values: Sequence[float]) -> "SliderScale":
        """The scale of ``values`` (physical units) measured at increasing slider values ``cs`` (one of them 0)."""
        c, v = np.asarray(cs, dtype=np.float64), np.asarray(values, dtype=np.float64)
        if c.shape != v.shape or c.ndim != 1 or not np.any(c == 0) or np.any(np.diff(c) <= 0) \
                or not np.all(np.isfinite(v)):
            raise CardioGenInputError("a slider scale needs finite values at increasing c, one of them 0",
                                      got=(c.tolist(), v.tolist()))
        i0 = int(np.flatnonzero(c == 0)[0])
        step = np.sign(np.diff(v))
        # the direction of the run: the first non-flat step away from 0 (to the right, else to the left)
        way = next((s for s in list(step[i0:]) + list(step[:i0][::-1]) if s != 0), 0.0)
        lo = hi = i0
        while way and hi + 1 < len(v) and step[hi] == way:
            hi += 1
        while way and lo > 0 and step[lo - 1] == way:
            lo -= 1
        return cls(name, tuple(float(x) for x in c[lo:hi + 1]), tuple(float(x) for x in v[lo:hi + 1]))


def soft_segmentation(frames: Any, net: Any, batch_size: int = 128) -> torch.Tensor:
    """Class probabilities ``(N, 5, S, S)`` of frames (any input of :func:`cardiogen.metrics.features.prepare_frames`)."""
    from ..metrics.features import prepare_frames

    size = int(getattr(getattr(net, "config", None), "size", 64))
    x = prepare_frames(frames, size)
    device = next(net.parameters()).device
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            out.append(F.softmax(net(x[i:i + batch_size].to(device))["seg"], 1).cpu())
    return torch.cat(out)


def measure_frames(frames: Any, net: Any, batch_size: int = 256) -> dict[str, np.ndarray]:
    """``{lv_area, sphericity, myo_thickness}`` → ``(N,)`` float64 per frame (see the module docstring); frames are
    measured in batches, so memory stays bounded for any N."""
    from ..metrics.features import _frames_tensor

    x = _frames_tensor(frames)
    parts: dict[str, list] = {k: [] for k in FRAME_PHENOTYPES}
    for i in range(0, x.shape[0], int(batch_size)):
        for k, v in _measure_batch(soft_segmentation(x[i:i + int(batch_size)], net, batch_size)).items():
            parts[k].append(v)
    return {k: np.concatenate(v) for k, v in parts.items()}


def _measure_batch(p: torch.Tensor) -> dict[str, np.ndarray]:
    p = p.double()
    blood, myo = p[:, 1], p[:, 2]
    n, h, w = blood.shape
    area = blood.sum((1, 2))
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                            indexing="ij")
    mass = area.clamp(min=1e-6)
    my, mx = (blood * yy).sum((1, 2)) / mass, (blood * xx).sum((1, 2)) / mass
    dy, dx = yy - my.view(-1, 1, 1), xx - mx.view(-1, 1, 1)
    cyy = (blood * dy * dy).sum((1, 2)) / mass + 1.0 / 12
    cxx = (blood * dx * dx).sum((1, 2)) / mass + 1.0 / 12
    cxy = (blood * dx * dy).sum((1, 2)) / mass
    tr, det = cyy + cxx, cyy * cxx - cxy * cxy
    disc = (tr * tr / 4 - det).clamp(min=0).sqrt()
    lmax, lmin = tr / 2 + disc, (tr / 2 - disc).clamp(min=0)
    sph = torch.where(area > 5, (lmin / lmax).sqrt(), torch.zeros_like(area))
    border = ((blood[:, 1:, :] - blood[:, :-1, :]).abs().sum((1, 2))
              + (blood[:, :, 1:] - blood[:, :, :-1]).abs().sum((1, 2)))
    thick = myo.sum((1, 2)) / border.clamp(min=1.0)
    return {"lv_area": (100.0 * area / (h * w)).numpy(), "sphericity": sph.numpy(), "myo_thickness": thick.numpy()}


def video_ef_area(lv_area: np.ndarray) -> float:
    """Fractional area change (%) of one video's LV blood-pool areas ``(T,)``."""
    a = np.asarray(lv_area, dtype=np.float64)
    return float(100.0 * (a.max() - a.min()) / a.max()) if a.size and a.max() > 0 else float("nan")


def generate_frames(generator: Any, ws: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Noise-free frames ``(N, 1, R, R)`` in [-1, 1] of W+ latents ``(N, num_ws, w_dim)``."""
    device = next(generator.parameters()).device
    out = []
    with torch.no_grad():
        for i in range(0, ws.shape[0], batch_size):
            out.append(generator.synthesis(ws[i:i + batch_size].to(device), noise_mode="none").cpu())
    return torch.cat(out) if out else torch.zeros(0, 1, generator.cfg.resolution, generator.cfg.resolution)


def sample_start_latents(generator: Any, traj: Any, n: int, seed: int = 0, psi: float = 1.0) -> torch.Tensor:
    """ED start latents w(1) = mapping(z) − 0.7·k of ``n`` seeded random z ``(n, num_ws, w_dim)``."""
    from .trajectory import start_latent

    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(int(n), generator.cfg.z_dim, generator=gen)
    device = next(generator.parameters()).device
    with torch.no_grad():
        w = generator.truncate(generator.mapping(z.to(device)), psi).cpu()
    return start_latent(w, traj)


def measure_video_phenotypes(generator: Any, traj: Any, net: Any, ws: torch.Tensor,
                             frames: Optional[int] = EF_FRAMES, smoothing: Optional[str] = None,
                             chunk: int = 32) -> dict[str, np.ndarray]:
    """``{"ef_area": (N,)}`` of frame-to-frame videos started at the latents ``ws`` ``(N, num_ws, w_dim)``
    (``frames`` per video, None: the fitted length; ``smoothing`` None: the fitted default; ``chunk`` videos at a
    time)."""
    from .trajectory import video_latents

    out = []
    for i in range(0, ws.shape[0], int(chunk)):
        lat = video_latents(ws[i:i + int(chunk)], traj, method="f2f", frames=frames, smoothing=smoothing)
        imgs = generate_frames(generator, lat.reshape(-1, *lat.shape[2:]))
        area = measure_frames(imgs, net)["lv_area"].reshape(lat.shape[0], lat.shape[1])
        out.extend(video_ef_area(a) for a in area)
    return {"ef_area": np.array(out)}


def split_directions(ws: torch.Tensor | np.ndarray, values: dict, names: Sequence[str]) -> tuple[dict, dict]:
    """Seed 002 Sec. 3.4: per phenotype, split the latents ``(N, num_ws, w_dim)`` at the mean of the measured
    ``values[name]`` ``(N,)``; direction = mean(high latents) − mean(low latents)."""
    flat = np.asarray(ws, dtype=np.float64)
    dirs, stats = {}, {}
    for name in names:
        v = np.asarray(values[name], dtype=np.float64)
        high = v > v.mean()
        if high.all() or not high.any():
            raise CardioGenInputError(f"the samples do not vary in {name}; cannot fit its direction")
        dirs[name] = (flat[high].mean(0) - flat[~high].mean(0)).astype(np.float32)
        stats[name] = {"mean": float(v.mean()), "std": float(v.std()), "low": int((~high).sum()),
                       "high": int(high.sum()), "direction_norm": float(np.linalg.norm(dirs[name]))}
    return dirs, stats


def slider_linearity(generator: Any, traj: Any, net: Any, name: str, direction: np.ndarray, *, hearts: int = 8,
                     seed: int = 9000, values: Sequence[float] = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0)) -> float:
    """Pearson R between the slider value c and the phenotype measured after moving ``hearts`` random ED latents
    (z seeds from ``seed``, disjoint from the benchmark's) by c·direction — a validation score for choosing a
    direction."""
    w1 = sample_start_latents(generator, traj, hearts, seed)
    k = torch.from_numpy(np.asarray(direction, dtype=np.float32))
    cs, vals = [], []
    for c in values:
        moved = w1 + float(c) * k
        v = (measure_video_phenotypes(generator, traj, net, moved)[name] if name in VIDEO_PHENOTYPES
             else measure_frames(generate_frames(generator, moved), net)[name])
        cs += [float(c)] * hearts
        vals += list(v)
    cs_a, vals_a = np.array(cs), np.array(vals)
    if np.ptp(vals_a) == 0:
        return 0.0
    return float(np.corrcoef(cs_a, vals_a)[0, 1])


def fit_phenotype_directions(generator: Any, traj: Any, net: Any, *, samples: int = 400, seed: int = 0,
                             names: Sequence[str] = LATENT_PHENOTYPES,
                             progress: Optional[Callable] = None) -> tuple[dict, dict]:
    """``({name: (num_ws, w_dim)}, stats)`` by the high-minus-low split of ``samples`` generated ED frames."""
    unknown = [n for n in names if n not in LATENT_PHENOTYPES]
    if unknown:
        raise CardioGenInputError("unknown phenotype", expected=LATENT_PHENOTYPES, got=unknown)
    if samples < 4:
        raise CardioGenInputError("need at least 4 samples to split into low and high groups", got=samples)
    ws = sample_start_latents(generator, traj, samples, seed)
    report(progress, 0.3, f"measuring {samples} generated ED frames")
    values = measure_frames(generate_frames(generator, ws), net)
    dirs, stats = split_directions(ws, values, [n for n in names if n in FRAME_PHENOTYPES])
    video_names = [n for n in names if n in VIDEO_PHENOTYPES]
    if video_names:
        n_video = min(samples, VIDEO_SAMPLES)
        report(progress, 0.6, f"measuring {n_video} generated videos")
        v_dirs, v_stats = split_directions(ws[:n_video], measure_video_phenotypes(generator, traj, net, ws[:n_video]),
                                          video_names)
        dirs.update(v_dirs)
        stats.update(v_stats)
    report(progress, 1.0, "phenotype directions fitted")
    return dirs, stats
