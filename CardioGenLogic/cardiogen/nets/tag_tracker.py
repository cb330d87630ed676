"""Learned tag tracking (seed 001, chapter 4, section 4.3.6): a CNN for spatial features and an RNN over the cardiac
cycle that carry myocardial landmarks through a tagged short-axis sequence, the network only.

The seed re-implements Ferdian et al. (2020, its ref. [174]): a CNN extracts spatial features of every frame, an RNN
integrates them over time, trained end to end to output the landmarks of every frame. The paper gives no sizes; here
the CNN and RNN are combined as a recurrent point tracker (the design of learned point trackers such as PIPs, Harley
et al., ECCV 2022): each landmark keeps a GRU state; at frame t it looks at a small window of the frame's CNN
features around where it was at t - 1, correlates that window with its own features at end-diastole (the tag
pattern it was written with) and at t - 1 (the pattern as it has faded since), and the GRU turns the correlations
into its step. Landmarks are thus tracked by the tissue's tag pattern, locally, and the recurrence follows a tag
across frames where the periodic grid alone would be ambiguous.

Shapes: B sequences, T frames, H x W pixels, N landmarks, C feature channels, K = (2r + 1)² window offsets.
Positions are pixel coordinates (x = column, y = row, float, the centre of pixel (0, 0) at (0, 0)).
Loss and data are in :mod:`cardiogen.models.tag_tracking`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CardioGenInputError
from .pwc3d import config_fields

__all__ = ["TagTrackerConfig", "TagTracker", "sample_points"]


@dataclass
class TagTrackerConfig:
    """Sizes of the tracker (scaled only through these numbers)."""

    channels: int = 32          #: CNN feature channels C
    dilations: tuple = (1, 2, 4, 1)  #: one 3x3 convolution per entry (receptive field grows with the dilation)
    radius: int = 3             #: correlation window radius r (pixels)
    hidden: int = 96            #: GRU state per landmark
    max_step_px: float = 3.0    #: largest step per frame (pixels; tanh-bounded)

    @classmethod
    def from_dict(cls, data: dict) -> "TagTrackerConfig":
        cfg = cls(**config_fields(cls, data))
        cfg.dilations = tuple(int(d) for d in cfg.dilations)
        return cfg


def sample_points(features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``features`` ``(B, C, H, W)`` at ``points`` ``(B, M, 2)`` (pixels, x, y) -> ``(B, M, C)``;
    zero outside the image."""
    _, _, h, w = features.shape
    grid = torch.stack([2.0 * points[..., 0] / max(w - 1, 1) - 1.0, 2.0 * points[..., 1] / max(h - 1, 1) - 1.0], -1)
    out = F.grid_sample(features, grid.unsqueeze(2), mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.squeeze(3).transpose(1, 2)


class TagTracker(nn.Module):
    """CNN + GRU landmark tracker.

    ``forward(frames (B, T, H, W), start (B, N, 2)) -> (B, T, N, 2)``: the landmarks in every frame, frame 0 being
    ``start`` (end-diastole, where the tags were written). Frames are intensity-normalised to about [0, 1].
    """

    def __init__(self, config: TagTrackerConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or TagTrackerConfig()
        layers: list[nn.Module] = []
        c_in = 1
        for d in cfg.dilations:
            layers += [nn.Conv2d(c_in, cfg.channels, 3, padding=d, dilation=d), nn.GroupNorm(4, cfg.channels),
                       nn.GELU()]
            c_in = cfg.channels
        layers.append(nn.Conv2d(cfg.channels, cfg.channels, 1))
        self.cnn = nn.Sequential(*layers)
        r = cfg.radius
        yy, xx = torch.meshgrid(torch.arange(-r, r + 1.0), torch.arange(-r, r + 1.0), indexing="ij")
        self.register_buffer("offsets", torch.stack([xx.flatten(), yy.flatten()], -1), persistent=False)  # (K, 2)
        k = self.offsets.shape[0]
        self.inp = nn.Sequential(nn.Linear(2 * k + 2 * cfg.channels + 2, cfg.hidden), nn.GELU())
        self.gru = nn.GRUCell(cfg.hidden, cfg.hidden)
        self.head = nn.Sequential(nn.Linear(cfg.hidden, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, 2))

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """``(B, T, H, W)`` -> ``(B, T, C, H, W)`` unit-norm features per pixel."""
        b, t, h, w = frames.shape
        f = self.cnn(frames.reshape(b * t, 1, h, w))
        return F.normalize(f, dim=1).reshape(b, t, -1, h, w)

    def _window(self, feat: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Features of the (2r+1)² window around each point: ``(B, N, K, C)``."""
        b, n, _ = points.shape
        k = self.offsets.shape[0]
        where = (points.unsqueeze(2) + self.offsets.view(1, 1, k, 2)).reshape(b, n * k, 2)
        return sample_points(feat, where).reshape(b, n, k, -1)

    def forward(self, frames: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        if frames.ndim != 4 or start.ndim != 3 or start.shape[-1] != 2 or start.shape[0] != frames.shape[0]:
            raise CardioGenInputError("tag tracker expects frames (B, T, H, W) and start points (B, N, 2)",
                                      got=f"{tuple(frames.shape)} and {tuple(start.shape)}")
        b, t, h, w = frames.shape
        n = start.shape[1]
        feats = self.features(frames)
        scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=start.device)
        f0 = sample_points(feats[:, 0], start)                          # (B, N, C): the tag as written
        f_prev, p = f0, start
        state = start.new_zeros(b * n, self.config.hidden)
        out = [start]
        for k in range(1, t):
            win = self._window(feats[:, k], p)                           # (B, N, K, C)
            corr0 = torch.einsum("bnkc,bnc->bnk", win, f0)
            corr1 = torch.einsum("bnkc,bnc->bnk", win, f_prev)
            x = torch.cat([corr0, corr1, f0, f_prev, (p * scale - 1.0)], -1).reshape(b * n, -1)
            state = self.gru(self.inp(x), state)
            step = self.config.max_step_px * torch.tanh(self.head(state) / self.config.max_step_px)
            p = p + step.reshape(b, n, 2)
            f_prev = sample_points(feats[:, k], p)
            out.append(p)
        return torch.stack(out, 1)
