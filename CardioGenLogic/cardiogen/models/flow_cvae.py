"""Systole-conditioned generation of 3D cardiac motion (seed 004): a CVAE of flow fields with multi-scale conditioning.

The seed's model, scaled by config only:

* **Condition**: the end-systolic (ES) volume ``(B, 1, D, H, W)`` and its multi-scale features from the feature
  pyramid of a 3D PWC-Net (:class:`cardiogen.nets.pwc3d.FeaturePyramid3D`) trained for cardiac CT flow estimation and
  then **frozen** (its weights are not parameters of the CVAE's optimiser and it runs without gradients).
* **Encoder**: the flow field (3 channels) concatenated with the ES volume, then one stage per pyramid level (a
  strided 3D convolution, the level's pyramid features concatenated, a 3D convolution), giving the mean and log
  variance of a spatial latent ``z`` ``(B, latent, D/2^L, H/2^L, W/2^L)``.
* **Decoder**: mirrors it with transposed 3D convolutions; at every level the pyramid features (and at full
  resolution the ES volume) are concatenated with the activations (with ``latent_skips``, the latent too, upsampled);
  the last layer gives the flow.
* **Loss** (:func:`cvae_loss`): ``λ_rec · MSE(flow) + λ_KL · KL(q(z | flow, ES) ‖ N(0, I))``; the MSE sums the three
  components, i.e. it is the mean squared endpoint error. The seed clips gradients at norm 0.75 (training config).
  Ours adds, by config, ``λ_V · (ΔV_myo)²``: the myocardium's volume change under the decoded flow (the wall is
  nearly incompressible; without it the samples' walls grew by 40-60 % from ES to ED, measured).
* **Generation** (:meth:`FlowCVAE.sample`): ``z`` → flow → the ES volume warped by it is a synthetic end-diastolic
  (ED) volume whose flow is known exactly; :func:`latent_line` samples along a line in latent space. The seed draws
  ``z ~ N(0, I)``; a model whose posteriors do not fill N(0, I) then decodes implausible flows from it (measured on
  the phantom: near-zero motion), so after training the aggregated posterior of the training pairs is fitted by a
  diagonal Gaussian (:meth:`FlowCVAE.fit_latent_prior`, ex-post density estimation as in Ghosh et al. 2020,
  "From variational to deterministic autoencoders") and sampling draws from it when fitted (``prior="normal"``: the
  seed's).

Flow convention (:mod:`cardiogen.nets.warp`): voxels, channels (x, y, z), defined on the ED grid and pointing into
the ES volume, ``ED(x) = ES(x + f(x))``; so ``warp(ES, f)`` is the ED volume, and the 3D PWC-Net estimates ``f`` as
``PWCFlow3D(ED, ES)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..nets.pwc3d import FeaturePyramid3D, config_fields, conv3
from ..nets.warp import warp

__all__ = ["FlowCVAEConfig", "FlowCVAE", "cvae_loss", "augment_pair", "latent_line", "synthesise_ed",
           "jacobian_determinant_torch", "myocardial_volume_error"]


@dataclass
class FlowCVAEConfig:
    """Widths of the CVAE (one per pyramid level, finest first) and its latent channels."""

    channels: tuple = (16, 24, 32, 48)
    latent: int = 8
    pyramid_channels: tuple = (8, 16, 24, 32)  #: the frozen pyramid's widths (from the flow estimator's config)
    #: also concatenate the (upsampled) latent at every decoder level, not only at the coarsest: with a strong
    #: condition, a decoder that sees z only at the bottom learns to ignore it (measured in ct_motion's benchmark)
    latent_skips: bool = False

    @classmethod
    def from_dict(cls, data: dict) -> "FlowCVAEConfig":
        cfg = cls(**config_fields(cls, data))
        if len(cfg.channels) != len(cfg.pyramid_channels):
            raise ValueError(f"one CVAE width per pyramid level: {cfg.channels} vs {cfg.pyramid_channels}")
        return cfg


class FlowCVAE(nn.Module):
    """CVAE ``p(flow | ES)`` with the frozen pyramid's features concatenated at every level (module docstring)."""

    def __init__(self, config: FlowCVAEConfig | None = None, pyramid: FeaturePyramid3D | None = None) -> None:
        super().__init__()
        cfg = config or FlowCVAEConfig()
        self.config = cfg
        self.pyramid = pyramid or FeaturePyramid3D(cfg.pyramid_channels)
        if tuple(self.pyramid.channels) != tuple(cfg.pyramid_channels):
            raise ValueError(f"pyramid widths {self.pyramid.channels} differ from the config's {cfg.pyramid_channels}")
        self.freeze_pyramid()
        ch, pc = list(cfg.channels), list(cfg.pyramid_channels)
        self.enc_in = conv3(3 + 1, ch[0])
        self.enc_down = nn.ModuleList()
        self.enc_mix = nn.ModuleList()
        cin = ch[0]
        for c, p in zip(ch, pc):
            self.enc_down.append(conv3(cin, c, stride=2))
            self.enc_mix.append(conv3(c + p, c))
            cin = c
        self.to_mu = nn.Conv3d(ch[-1], cfg.latent, 1)
        self.to_logvar = nn.Conv3d(ch[-1], cfg.latent, 1)
        self.dec_in = conv3(cfg.latent + pc[-1], ch[-1])
        self.dec_up = nn.ModuleList()
        self.dec_mix = nn.ModuleList()
        for level in range(len(ch) - 1, -1, -1):
            cout = ch[level - 1] if level > 0 else ch[0]
            skip = pc[level - 1] if level > 0 else 1  # the next finer pyramid level, or the ES volume itself
            self.dec_up.append(nn.Sequential(nn.ConvTranspose3d(ch[level], cout, 4, stride=2, padding=1),
                                             nn.LeakyReLU(0.1)))
            self.dec_mix.append(conv3(cout + skip + (cfg.latent if cfg.latent_skips else 0), cout))
        self.to_flow = nn.Conv3d(ch[0], 3, 3, padding=1)
        nn.init.normal_(self.to_flow.weight, std=1e-3)
        nn.init.zeros_(self.to_flow.bias)
        # the aggregated posterior (fit_latent_prior): empty until fitted; sized by the checkpoint when loaded
        self.register_buffer("latent_mean", torch.zeros(0))
        self.register_buffer("latent_std", torch.zeros(0))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001 (torch's signature)
        for name in ("latent_mean", "latent_std"):  # weights or checkpoints from before the fit: no prior
            if prefix + name not in state_dict:
                state_dict[prefix + name] = torch.zeros(0)
            setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def fit_latent_prior(self, flows: list[torch.Tensor], volumes: list[torch.Tensor]) -> dict:
        """Fit the aggregated posterior ``q(z) = mean_i q(z | flow_i, ES_i)`` of training pairs by a diagonal
        Gaussian (mean, and variance = variance of the posterior means + mean posterior variance): the prior that
        :meth:`sample` draws from once fitted. Flows ``(1, 3, D, H, W)`` and ES volumes ``(1, 1, D, H, W)``."""
        mus, variances = [], []
        for f, v in zip(flows, volumes):
            mu, logvar = self.encode(f, v)
            mus.append(mu[0])
            variances.append(logvar[0].exp())
        mu = torch.stack(mus)
        self.latent_mean = mu.mean(dim=0)
        self.latent_std = (mu.var(dim=0, unbiased=False) + torch.stack(variances).mean(dim=0)).sqrt()
        return {"pairs": len(mus), "mean_abs_mean": float(self.latent_mean.abs().mean()),
                "mean_std": float(self.latent_std.mean())}

    @property
    def has_latent_prior(self) -> bool:
        return self.latent_mean.numel() > 0

    # -- conditioning ---------------------------------------------------------------------------------------------
    def freeze_pyramid(self) -> None:
        """The pyramid is the flow estimator's, trained before: no gradients, evaluation mode (the seed)."""
        for p in self.pyramid.parameters():
            p.requires_grad_(False)
        self.pyramid.eval()

    def train(self, mode: bool = True) -> "FlowCVAE":
        super().train(mode)
        self.pyramid.eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if not n.startswith("pyramid.")]

    @property
    def multiple(self) -> int:
        return self.pyramid.multiple

    def condition(self, es: torch.Tensor) -> list[torch.Tensor]:
        """Frozen multi-scale features of the ES volume ``(B, 1, D, H, W)``, finest first."""
        if es.ndim != 5 or es.shape[1] != 1:
            raise ValueError(f"ES volume must be (B, 1, D, H, W), got {tuple(es.shape)}")
        if any(s % self.multiple for s in es.shape[-3:]):
            raise ValueError(f"D, H, W must be multiples of {self.multiple}, got {tuple(es.shape[-3:])}")
        with torch.no_grad():
            return [f.detach() for f in self.pyramid(es)]

    def latent_shape(self, es_shape: tuple) -> tuple:
        """Shape of ``z`` for ES volumes of shape ``(B, 1, D, H, W)``."""
        f = self.multiple
        return (es_shape[0], self.config.latent) + tuple(s // f for s in es_shape[-3:])

    # -- encoder / decoder ----------------------------------------------------------------------------------------
    def encode(self, flow: torch.Tensor, es: torch.Tensor, feats: list[torch.Tensor] | None = None):
        """``(mu, logvar)`` of q(z | flow, ES), each ``latent_shape``."""
        feats = feats if feats is not None else self.condition(es)
        x = self.enc_in(torch.cat([flow, es], dim=1))
        for down, mix, f in zip(self.enc_down, self.enc_mix, feats):
            x = mix(torch.cat([down(x), f], dim=1))
        return self.to_mu(x), self.to_logvar(x).clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor, es: torch.Tensor, feats: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Flow ``(B, 3, D, H, W)`` (voxels) from ``z`` conditioned on the ES volume."""
        feats = feats if feats is not None else self.condition(es)
        x = self.dec_in(torch.cat([z, feats[-1]], dim=1))
        n = len(feats)
        for i, (up, mix) in enumerate(zip(self.dec_up, self.dec_mix)):
            level = n - 1 - i
            skip = feats[level - 1] if level > 0 else es
            parts = [up(x), skip]
            if self.config.latent_skips:
                parts.append(F.interpolate(z, size=skip.shape[-3:], mode="nearest"))
            x = mix(torch.cat(parts, dim=1))
        return self.to_flow(x)

    def forward(self, flow: torch.Tensor, es: torch.Tensor, generator: torch.Generator | None = None):
        """Reconstruction ``(flow_hat, mu, logvar)`` with the reparameterised ``z``."""
        feats = self.condition(es)
        mu, logvar = self.encode(flow, es, feats)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decode(z, es, feats), mu, logvar

    def draw_latents(self, shape: tuple, *, generator: torch.Generator | None = None, temperature: float = 1.0,
                     prior: str = "auto", device=None, dtype=None) -> torch.Tensor:
        """Latents of ``shape`` (:meth:`latent_shape`): from the fitted aggregated posterior (``prior`` "auto" when
        fitted, or "aggregate") as ``mean + temperature · std · ε``, or from N(0, temperature² I) ("normal", the
        seed's prior; "auto" without a fit)."""
        eps = torch.randn(shape, generator=generator, device=device, dtype=dtype)
        if prior not in ("auto", "aggregate", "normal"):
            raise ValueError(f"prior must be 'auto', 'aggregate' or 'normal', got {prior!r}")
        if prior == "normal" or (prior == "auto" and not self.has_latent_prior):
            return temperature * eps
        if not self.has_latent_prior:
            raise ValueError("no aggregated posterior fitted (fit_latent_prior)")
        if tuple(self.latent_mean.shape) != tuple(shape[1:]):
            raise ValueError(f"the fitted prior is for latents {tuple(self.latent_mean.shape)}, got {tuple(shape[1:])}"
                             ": the ES volume has another size than the training volumes")
        return self.latent_mean.to(eps) + temperature * self.latent_std.to(eps) * eps

    @torch.no_grad()
    def sample(self, es: torch.Tensor, n: int = 1, *, generator: torch.Generator | None = None,
               z: torch.Tensor | None = None, temperature: float = 1.0, prior: str = "auto") -> torch.Tensor:
        """``n`` flows ``(n, 3, D, H, W)`` for one ES volume ``(1, 1, D, H, W)``: z from :meth:`draw_latents` (or the
        given ``z`` ``(n, latent, d, h, w)``)."""
        if es.shape[0] != 1:
            raise ValueError(f"sample takes one ES volume (1, 1, D, H, W), got {tuple(es.shape)}")
        es_n = es.expand(n if z is None else z.shape[0], *es.shape[1:])
        if z is None:
            z = self.draw_latents(self.latent_shape(tuple(es_n.shape)), generator=generator, temperature=temperature,
                                  prior=prior, device=es.device, dtype=es.dtype)
        return self.decode(z, es_n)


def jacobian_determinant_torch(flow: torch.Tensor) -> torch.Tensor:
    """det(I + ∇f) ``(B, D, H, W)`` of flows ``(B, 3, D, H, W)`` (voxels, channels x, y, z) by central differences,
    differentiable (the torch twin of :func:`cardiogen.models.ct_motion.jacobian_determinant`)."""
    grads = [torch.gradient(flow[:, c], dim=(3, 2, 1)) for c in range(3)]  # d f_c / d(x, y, z)
    j = torch.stack([torch.stack(list(g), dim=-1) for g in grads], dim=-2)  # (B, D, H, W, 3 [f_c], 3 [x_a])
    return torch.linalg.det(j + torch.eye(3, dtype=flow.dtype, device=flow.device))


def myocardial_volume_error(flow: torch.Tensor, myo: torch.Tensor) -> torch.Tensor:
    """``(B,)`` relative volume change ES/ED − 1 of the myocardium that a flow carries: ``myo`` ``(B, 1, D, H, W)``
    marks the ED myocardium on the flow's grid; the ES volume it maps to is Σ det(I + ∇f) over it, so the mean
    determinant there minus 1 is the change (0 for an incompressible wall)."""
    det = jacobian_determinant_torch(flow)
    w = myo[:, 0].to(flow.dtype)
    return (det * w).sum(dim=(1, 2, 3)) / w.sum(dim=(1, 2, 3)).clamp_min(1.0) - 1.0


def cvae_loss(flow_hat: torch.Tensor, flow: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, *,
              rec_weight: float = 1.0, kl_weight: float = 1e-3, mask: torch.Tensor | None = None,
              myo: torch.Tensor | None = None, volume_weight: float = 0.0) -> tuple[torch.Tensor, dict]:
    """``rec_weight · mean ‖flow_hat − flow‖² + kl_weight · KL (+ volume_weight · mean_b (ΔV_myo)²)`` (KL summed over
    latent elements, averaged over the batch, divided by the number of flow voxels so its weight does not depend on
    the volume size). ``mask`` ``(B, 1, D, H, W)`` weights voxels of the reconstruction term. With ``myo`` (the ED
    myocardium, ``(B, 1, D, H, W)``) and ``volume_weight`` > 0, the myocardium's volume change under the decoded flow
    (:func:`myocardial_volume_error`) is penalised: the wall is nearly incompressible, which a decoder that only
    matches flows in the mean squared sense smooths away. Logs the mean EPE in voxels."""
    sq = (flow_hat - flow).square().sum(dim=1, keepdim=True)
    epe = sq.sqrt()
    if mask is None:
        rec, mepe = sq.mean(), epe.mean()
    else:
        rec = (sq * mask).sum() / mask.sum().clamp_min(1.0)
        mepe = (epe * mask).sum() / mask.sum().clamp_min(1.0)
    kl = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(dim=tuple(range(1, mu.ndim))).mean()
    kl_per_voxel = kl / float(np.prod(flow.shape[-3:]))
    total = rec_weight * rec + kl_weight * kl_per_voxel
    logs = {"mse": float(rec.detach()), "mepe_vox": float(mepe.detach()), "kl": float(kl.detach())}
    if myo is not None and volume_weight > 0:
        dv = myocardial_volume_error(flow_hat, myo)
        total = total + volume_weight * dv.square().mean()
        logs["myo_volume_change"] = float(dv.detach().abs().mean())
    return total, logs


def augment_pair(es: torch.Tensor, flow: torch.Tensor, rng: np.random.Generator, *, noise_var: float = 0.015,
                 max_shift_vox: float = 2.0, zoom: tuple = (0.9, 1.1),
                 mask: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """The seed's augmentations of one training pair, consistently for image and flow: a similarity ``T(x) = s x + t``
    (zoom ``s`` about the centre, shift ``t`` voxels) maps ES, ED and so the flow: ``f'(y) = s · f(T⁻¹ y)``; then
    Gaussian intensity noise of variance ``noise_var`` on the ES volume (the condition). Volumes ``(B, 1, D, H, W)``,
    flows ``(B, 3, D, H, W)``; ``mask`` (optional) is moved with them (nearest)."""
    b = es.shape[0]
    size = es.shape[-3:]
    theta = torch.zeros(b, 3, 4, dtype=es.dtype)
    scales = []
    for i in range(b):
        s = float(rng.uniform(*zoom))
        shift = rng.uniform(-max_shift_vox, max_shift_vox, 3)  # voxels along x, y, z
        scales.append(s)
        theta[i, :, :3] = torch.eye(3, dtype=es.dtype) / s
        # normalised coordinates (align_corners=False): voxel shift t -> 2 t / n
        norm = np.array([2 * shift[0] / size[2], 2 * shift[1] / size[1], 2 * shift[2] / size[0]])
        theta[i, :, 3] = torch.as_tensor(-norm / s, dtype=es.dtype)
    grid = F.affine_grid(theta, list(es.shape), align_corners=False)
    es_a = F.grid_sample(es, grid, mode="bilinear", padding_mode="border", align_corners=False)
    flow_a = F.grid_sample(flow, grid, mode="bilinear", padding_mode="border", align_corners=False)
    flow_a = flow_a * torch.as_tensor(scales, dtype=flow.dtype).view(b, 1, 1, 1, 1)
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    es_a = es_a + float(np.sqrt(noise_var)) * torch.randn(es_a.shape, generator=gen, dtype=es_a.dtype)
    out = (es_a, flow_a)
    if mask is not None:
        out += (F.grid_sample(mask, grid, mode="nearest", padding_mode="zeros", align_corners=False),)
    return out


def latent_line(model: FlowCVAE, es: torch.Tensor, steps: int = 5, *, seed: int = 0) -> torch.Tensor:
    """Flows ``(steps, 3, D, H, W)`` decoded uniformly along a line between two random latents (the seed's Fig. 7)."""
    g = torch.Generator().manual_seed(int(seed))
    shape = model.latent_shape(tuple(es.shape))
    a = model.draw_latents(shape, generator=g, dtype=es.dtype)
    b = model.draw_latents(shape, generator=g, dtype=es.dtype)
    t = torch.linspace(0, 1, int(steps), dtype=es.dtype).view(-1, 1, 1, 1, 1)
    return model.sample(es, z=(1 - t) * a + t * b)


def synthesise_ed(es: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """The synthetic ED volume(s) ``warp(ES, flow)`` ``(n, 1, D, H, W)`` for flows ``(n, 3, D, H, W)``."""
    return warp(es.expand(flow.shape[0], *es.shape[1:]), flow)
