"""Tiny ECG → cine models and a phantom ECG in their heart-rate range, for the panel and render tests (test-only).

The models are trained exactly as Testing/unit/test_ecg_to_cine.py does (cine_vae_tiny.yaml + ecg_flow_tiny.yaml, a
few steps, ~10 s on one thread) into a temporary user registry; the caller points CARDIOGEN_USER_MODELS at it, and a
background job started afterwards inherits it."""
from __future__ import annotations

from pathlib import Path


def train_tiny_ecg_cine(root: Path) -> Path:
    """Train cine-vae-tiny and ecg-flow-tiny under ``root``; returns the user registry directory to use."""
    import os

    from cardiogen.pipelines import ecg_to_cine
    from cardiogen.train import load_config, train

    user = root / "user"
    previous = os.environ.get("CARDIOGEN_USER_MODELS")
    os.environ["CARDIOGEN_USER_MODELS"] = str(user)  # the flow's training finds the VAE it was told to use there
    try:
        ecg_to_cine._models.cache_clear()
        train("cine_vae", load_config("cine_vae_tiny.yaml"), root / "vae", register_dir=user)
        train("ecg_flow", load_config("ecg_flow_tiny.yaml"), root / "flow", register_dir=user)
    finally:
        if previous is None:
            os.environ.pop("CARDIOGEN_USER_MODELS", None)
        else:
            os.environ["CARDIOGEN_USER_MODELS"] = previous
    return user


def ecg_in_range(seconds: float = 20.0):
    """A phantom case (ECG only, ``seconds`` long) whose heart rate lies in ecg-flow-tiny's trained range."""
    from cardiogen.phantom import PhantomConfig, make_case
    from cardiogen.weights import Registry

    lo, hi = Registry().get("ecg-flow-tiny").geometry["heart_rate_bpm_range"]
    return next(c for c in (make_case(PhantomConfig(seed=s, modalities=("ecg",), ecg_duration_s=seconds))
                            for s in range(1000, 1040)) if lo <= c.truth.phenotypes_model.heart_rate_bpm <= hi)
