"""Training: one loop for every model, on CPU, one GPU, or many GPUs / nodes through ``torchrun`` (PyTorch DDP).

``cardiogen train MODEL --config CONFIG.yaml --out DIR [--register FOLDER]``

* A model plugs in through a :class:`TrainSpec` (build the network, make batches for step s on rank r, loss,
  evaluation) registered in :data:`SPECS`.
* Batches are a pure function of (seed, step, rank), so a resumed run sees exactly the batches it would have seen,
  and results do not depend on when it was interrupted.
* ``train.ema_decay`` > 0 keeps an exponential moving average of the weights (DDPM, Ho et al. 2020, App. B: 0.9999),
  with the warm-up ``min(decay, (1 + n) / (10 + n))`` after n updates; evaluation and export use the averaged
  weights, and the average is checkpointed with the run. Off (0) by default; the GANs keep their own G_ema.
* Checkpoints (``DIR/checkpoint.pt``: model + optimiser state + step + RNG) are written every
  ``train.checkpoint_every`` steps and at the end; a run finds its checkpoint and resumes. They hold only tensors
  and numbers and are read back with ``torch.load(weights_only=True)`` (no code is unpickled).
* At the end the model is exported to ``DIR/<id>.safetensors`` and registered (sha256, size, training data and
  command, config, metrics, CPU/GPU timing) in ``DIR/registry.json`` or the registry folder given by ``--register``,
  under the spec's pipeline or ``export.pipeline`` (a stage another config starts from, not offered to users).

Under ``torchrun --nproc_per_node N cardiogen train ...`` the environment variables RANK / WORLD_SIZE /
LOCAL_RANK select the process group (NCCL on CUDA, Gloo on CPU); rank 0 writes checkpoints and exports.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Protocol

from ..errors import CardioGenInputError
from ..progress import report


class TrainSpec(Protocol):
    """What a trainable model provides."""

    name: str
    pipeline: str

    def build(self, config: dict) -> Any: ...

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any: ...

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]: ...

    def evaluate(self, model: Any, config: dict) -> dict: ...

    def describe_data(self, config: dict) -> str: ...


SPECS: dict[str, Callable[[], TrainSpec]] = {}


def seed_range(section: dict, default_first: int = 0, default_count: int = 64) -> tuple[int, ...]:
    """Phantom subject seeds of a config section: ``first_seed`` .. ``first_seed + cases − 1``."""
    first = int(section.get("first_seed", default_first))
    return tuple(range(first, first + int(section.get("cases", default_count))))


def init_weights(model: Any, section: dict) -> Any:
    """Start ``model`` from registered weights: ``section["init_from"]`` (a registry id of the same architecture; a
    resumed run then loads its checkpoint over them); with ``section["init_partial"]`` the architectures may differ
    and only tensors of the same name and shape are taken (the rest keep their fresh initialisation). Returns
    ``model``; without ``init_from`` it is returned untouched."""
    if not section.get("init_from"):
        return model
    from ..weights import Registry

    state = Registry().load_state_dict(str(section["init_from"]))
    if section.get("init_partial"):
        own = model.state_dict()
        state = {k: v for k, v in state.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
        model.load_state_dict(state, strict=False)
    else:
        model.load_state_dict(state)
    return model


def register_spec(name: str) -> Callable:
    def _register(factory: Callable[[], TrainSpec]) -> Callable[[], TrainSpec]:
        SPECS[name] = factory
        return factory

    return _register


def load_config(path_or_dict: str | os.PathLike | dict) -> dict:
    """A training config (YAML file or dict) with sections model / data / train / export, defaults filled in."""
    if isinstance(path_or_dict, dict):
        config = json.loads(json.dumps(path_or_dict))
    else:
        import yaml

        path = Path(path_or_dict)
        if not path.is_file():
            path = Path(__file__).resolve().parents[1] / "configs" / Path(path_or_dict).name
        try:
            config = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise CardioGenInputError(f"cannot read training config: {exc}", source=path_or_dict) from exc
    if not isinstance(config, dict):
        raise CardioGenInputError("training config must be a mapping", source=path_or_dict)
    train = config.setdefault("train", {})
    train.setdefault("steps", 100)
    train.setdefault("lr", 1e-3)
    train.setdefault("weight_decay", 0.0)
    train.setdefault("seed", 0)
    train.setdefault("checkpoint_every", 50)
    train.setdefault("grad_clip", 1.0)
    train.setdefault("device", "auto")
    config.setdefault("model", {})
    config.setdefault("data", {})
    config.setdefault("export", {})
    return config


@dataclass
class TrainResult:
    model_id: str
    weights: Path
    registry_dir: Path
    steps: int
    metrics: dict
    seconds: float
    resumed_from: int


def _dist_env() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _checkpoint_path(out: Path) -> Path:
    return out / "checkpoint.pt"


def train(model_name: str, config: str | os.PathLike | dict, out_dir: str | os.PathLike, *,
          register_dir: Optional[str | os.PathLike] = None, progress=None, command: Optional[str] = None,
          max_steps: Optional[int] = None) -> TrainResult:
    """Train ``model_name`` with ``config``; resumes from ``out_dir/checkpoint.pt``; exports and registers.

    ``max_steps`` stops early (after checkpointing) without exporting — used to test resumption.
    """
    import torch

    from ..device import resolve_device

    if model_name not in SPECS:
        from . import specs  # noqa: F401 - registers the built-in specs

    if model_name not in SPECS:
        raise CardioGenInputError("unknown model to train", expected=sorted(SPECS), got=model_name)
    spec = SPECS[model_name]()
    cfg = load_config(config)
    tcfg = cfg["train"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rank, world, local_rank = _dist_env()
    distributed = world > 1
    if distributed:
        import torch.distributed as dist

        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
        device = torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
    else:
        device = resolve_device(tcfg["device"])
    torch.manual_seed(int(tcfg["seed"]))
    model = spec.build(cfg).to(device)
    # a spec may train only part of the model (ControlNet: the control branch; GANs: the generators)
    params = spec.parameters(model) if hasattr(spec, "parameters") else model.parameters()
    betas = tuple(float(b) for b in tcfg.get("betas", (0.9, 0.999)))  # GANs: (0, 0.99)
    optimizer = torch.optim.AdamW(params, lr=float(tcfg["lr"]), weight_decay=float(tcfg["weight_decay"]),
                                  betas=betas)
    for group in optimizer.param_groups:  # a spec's parameter group may carry "lr_scale" (a factor on train.lr)
        group["lr"] = float(tcfg["lr"]) * float(group.get("lr_scale", 1.0))
    start_step = 0
    ckpt = _checkpoint_path(out)
    ema = WeightAverage(float(tcfg.get("ema_decay", 0.0)))
    if ckpt.is_file():
        state = torch.load(ckpt, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_step = int(state["step"])
        torch.set_rng_state(state["rng"].cpu())
        if "extra" in state and hasattr(spec, "load_extra_state"):  # e.g. a GAN's discriminator optimiser
            spec.load_extra_state(model, state["extra"], cfg)
        ema.load_state_dict(state.get("ema"))
    net = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    steps = int(tcfg["steps"])
    stop = min(steps, max_steps) if max_steps is not None else steps
    t0 = time.time()
    logs: dict = {}
    model.train()
    for step in range(start_step, stop):
        batch = spec.batch(cfg, step, rank, world)
        batch = _to_device(batch, device)
        loss, logs = spec.loss(net, batch, cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if tcfg["grad_clip"]:
            torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]],
                                           float(tcfg["grad_clip"]))
        optimizer.step()
        ema.update(model)
        done = step + 1
        if rank == 0:
            report(progress, done / steps, f"step {done}/{steps} loss {float(loss.detach()):.5f}")
            if done % int(tcfg["checkpoint_every"]) == 0 or done == stop:
                extra = spec.extra_state(model) if hasattr(spec, "extra_state") else None
                _save_checkpoint(ckpt, model, optimizer, done, extra, ema.state_dict())
    train_seconds = time.time() - t0
    if distributed:
        import torch.distributed as dist

        dist.barrier()
    if stop < steps:
        return TrainResult(model_name, Path(), Path(), stop, {}, train_seconds, start_step)
    result = None
    if rank == 0:
        ema.copy_to(model)  # evaluate and export the averaged weights (no-op when ema_decay is 0)
        model.eval()
        if hasattr(spec, "finalize"):  # post-training fits that belong to the exported model (e.g. a latent prior)
            spec.finalize(model, cfg)
        metrics = spec.evaluate(model, cfg)
        metrics["final_train_logs"] = logs
        result = _export(spec, model_name, model, cfg, out, register_dir, metrics, train_seconds, start_step,
                         command or " ".join(["cardiogen", *sys.argv[1:]]), device)
    if distributed:
        import torch.distributed as dist

        dist.barrier()  # the other ranks wait for rank 0's export, so that all leave the Gloo group together (a rank
        dist.destroy_process_group()  # that tore it down while rank 0 still held it once aborted under CPU load)
    return result  # type: ignore[return-value]


def _to_device(batch: Any, device: Any) -> Any:
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


class WeightAverage:
    """Exponential moving average of a model's floating-point weights and buffers.

    ``update(model)`` after every optimiser step: ``avg ← avg + (1 − d)(w − avg)`` with
    ``d = min(decay, (1 + n) / (10 + n))`` after n earlier updates (the usual warm-up, so early averages are not
    dominated by the random initialisation). Starts from the weights it first sees. ``decay == 0``: disabled.
    """

    def __init__(self, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise CardioGenInputError("train.ema_decay must be in [0, 1)", got=decay)
        self.decay = decay
        self.updates = 0
        self.average: Optional[dict] = None

    def update(self, model: Any) -> None:
        if self.decay == 0.0:
            return
        import torch

        with torch.no_grad():
            state = model.state_dict()
            if self.average is None:
                self.average = {k: v.detach().clone() for k, v in state.items() if v.is_floating_point()}
            d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
            for key, avg in self.average.items():
                avg.lerp_(state[key].detach(), 1.0 - d)
        self.updates += 1

    def state_dict(self) -> Optional[dict]:
        if self.decay == 0.0 or self.average is None:
            return None
        return {"weights": self.average, "updates": self.updates}

    def load_state_dict(self, state: Optional[dict]) -> None:
        """Resume an average; a checkpoint without one (written with EMA off) starts it at the resumed weights."""
        if self.decay == 0.0 or not state:
            return
        self.average = {k: v.clone() for k, v in state["weights"].items()}
        self.updates = int(state["updates"])

    def copy_to(self, model: Any) -> None:
        if self.decay != 0.0 and self.average is not None:
            model.load_state_dict({**model.state_dict(), **self.average})


def _save_checkpoint(path: Path, model: Any, optimizer: Any, step: int, extra: Optional[dict] = None,
                     ema: Optional[dict] = None) -> None:
    import torch

    from ..io.atomic import atomic_path

    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
             "rng": torch.get_rng_state()}
    if extra is not None:
        state["extra"] = extra
    if ema is not None:
        state["ema"] = ema
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _export(spec: TrainSpec, model_name: str, model: Any, cfg: dict, out: Path, register_dir: Any, metrics: dict,
            seconds: float, resumed_from: int, command: str, device: Any) -> TrainResult:
    from safetensors.torch import save_file

    from ..weights import add_weights

    export = cfg.get("export", {})
    model_id = export.get("id", f"{model_name}-custom")
    weights = out / f"{model_id}.safetensors"
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    extra = getattr(spec, "extra_tensors", None)  # e.g. the video diffusion models' training-data mean
    if extra is not None:
        tensors.update({k: v.detach().cpu().contiguous() for k, v in extra(model, cfg).items()})
    save_file(tensors, str(weights), metadata={"model": model_name, "config": json.dumps(cfg["model"])})
    target = Path(register_dir) if register_dir else out
    timing = {"train_seconds": round(seconds, 2), "train_device": str(device),
              "train_machine": f"{platform.machine()} {platform.processor() or ''}".strip()}
    timing.update(metrics.pop("timing", {}))
    entry = add_weights(weights, model_id=model_id, pipeline=str(export.get("pipeline", spec.pipeline)),
                        license=export.get("license", "BSD-3-Clause"), trained_on=spec.describe_data(cfg),
                        folder=target, training_command=command, config=cfg, metrics=metrics, timing=timing,
                        version=str(export.get("version", "1")),
                        geometry=spec.geometry(cfg) if hasattr(spec, "geometry") else {})
    return TrainResult(model_id, entry.path, target, int(cfg["train"]["steps"]), metrics, seconds, resumed_from)


def batches_iter(spec: TrainSpec, cfg: dict, rank: int = 0, world: int = 1) -> Iterator[Any]:
    step = 0
    while True:
        yield spec.batch(cfg, step, rank, world)
        step += 1
