"""Spatial warping and diffeomorphic integration of stationary velocity fields (2D and 3D).

Conventions: displacement / velocity fields are in **voxel units**, channel order (x, y[, z]) matching the
spatial axes (..., y, x) reversed, shape ``(B, D, *spatial)`` with D = spatial dims. ``warp(img, u)`` samples
``img`` at ``x + u(x)`` (backward warping, as in spatial transformer networks and VoxelMorph).

Scaling and squaring (Arsigny et al. 2006; Dalca et al. 2019): ``φ = exp(v)`` is approximated by
``φ_{1/2^N} = id + v / 2^N`` followed by N self-compositions ``φ ← φ ∘ φ``. ``exp(−v)`` is the inverse of
``exp(v)``, which the registration models use to turn a backward (target→reference) map into the forward
Lagrangian displacement of reference points.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _grid(shape: tuple[int, ...], device, dtype) -> torch.Tensor:
    """Identity sampling grid in voxel units, ``(D, *shape)`` with channel order (x, y[, z])."""
    axes = [torch.arange(n, device=device, dtype=dtype) for n in shape]
    mesh = torch.meshgrid(*axes, indexing="ij")  # (z,) y, x
    return torch.stack(mesh[::-1])


def warp(image: torch.Tensor, displacement: torch.Tensor, mode: str = "bilinear",
         padding_mode: str = "border") -> torch.Tensor:
    """Sample ``image`` ``(B, C, *S)`` at ``x + displacement(x)`` (``(B, D, *S)`` voxels); returns ``(B, C, *S)``."""
    spatial = image.shape[2:]
    dims = len(spatial)
    if displacement.shape[1] != dims or displacement.shape[2:] != spatial:
        raise ValueError(f"displacement must be (B, {dims}, *{tuple(spatial)}), got {tuple(displacement.shape)}")
    coords = _grid(tuple(spatial), image.device, image.dtype).unsqueeze(0) + displacement
    # normalise to [-1, 1] with align_corners=True: channel k (x, y, z) spans spatial axis dims-1-k
    norm = []
    for k in range(dims):
        size = spatial[dims - 1 - k]
        norm.append(2.0 * coords[:, k] / max(size - 1, 1) - 1.0)
    grid = torch.stack(norm, dim=-1)  # (B, *S, D) in (x, y[, z]) order as grid_sample expects
    return F.grid_sample(image, grid, mode=mode, padding_mode=padding_mode, align_corners=True)


def compose(u: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Displacement of ``(id + u) ∘ (id + w)``: ``w(x) + u(x + w(x))``."""
    return w + warp(u, w)


def integrate_velocity(velocity: torch.Tensor, steps: int = 7) -> torch.Tensor:
    """Displacement of ``exp(v)`` by scaling and squaring with ``steps`` squarings."""
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    u = velocity / (2**steps)
    for _ in range(steps):
        u = compose(u, u)
    return u


def gradient_loss(field: torch.Tensor) -> torch.Tensor:
    """Mean squared finite-difference gradient ``‖∇v‖²`` of a field ``(B, D, *S)`` (the seed's smoothness term)."""
    total = field.new_zeros(())
    for axis in range(2, field.ndim):
        diff = torch.diff(field, dim=axis)
        total = total + (diff**2).mean()
    return total
