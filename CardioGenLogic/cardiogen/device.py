"""Resolve the compute device once ("auto" -> cuda, mps, cpu); a device that was asked for but is missing raises."""
from __future__ import annotations

import logging

from .errors import CardioGenInputError

log = logging.getLogger(__name__)


def resolve_device(name: str = "auto"):
    """torch.device for "auto", "cpu", "cuda", "cuda:N" or "mps"."""
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            dev = torch.device("cuda")
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            dev = torch.device("mps")
        else:
            dev = torch.device("cpu")
        log.info("device auto -> %s", dev)
        return dev
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise CardioGenInputError("a CUDA device was requested but none is available", expected="cpu or auto",
                                  got=name)
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise CardioGenInputError("an MPS device was requested but none is available", got=name)
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise CardioGenInputError(f"unknown device: {exc}", got=name) from exc
