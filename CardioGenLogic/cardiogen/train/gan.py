"""What the GAN training specs share: the discriminator's own Adam optimiser, kept on the model and saved with the
run's checkpoint (``extra_state``), so that a resumed GAN run continues exactly as an uninterrupted one.

The training loop optimises the generator (``spec.parameters``); a GAN spec's ``loss`` first takes a discriminator
step with :meth:`DiscriminatorOptimiser.d_optimiser`, then returns the generator's loss.
"""
from __future__ import annotations

from typing import Any


class DiscriminatorOptimiser:
    """Mixin for a spec whose model has ``discriminator_parameters()``; ``d_betas`` are the Adam betas, the learning
    rate is ``train.d_lr`` (default ``train.lr``)."""

    d_betas: tuple = (0.5, 0.999)

    def d_optimiser(self, model: Any, config: dict) -> Any:
        import torch

        opt = getattr(model, "_cardiogen_d_opt", None)
        if opt is None:
            t = config["train"]
            opt = torch.optim.Adam(model.discriminator_parameters(), lr=float(t.get("d_lr", t["lr"])),
                                   betas=self.d_betas_for(config))
            model._cardiogen_d_opt = opt
        return opt

    def d_step(self, model: Any, config: dict, d_loss: Any) -> None:
        """Update the discriminator on ``d_loss`` with its own optimiser, then clear its gradients, so that the
        generator's loss computed next (through the updated discriminator) steps only the generator."""
        opt = self.d_optimiser(model, config)
        opt.zero_grad(set_to_none=True)
        d_loss.backward()
        opt.step()
        for p in model.discriminator_parameters():
            p.grad = None

    def d_betas_for(self, config: dict) -> tuple:
        return tuple(float(b) for b in self.d_betas)

    def extra_state(self, model: Any) -> dict:
        opt = getattr(model, "_cardiogen_d_opt", None)
        return {"d_optimizer": opt.state_dict()} if opt is not None else {}

    def load_extra_state(self, model: Any, state: dict, config: dict) -> None:
        if "d_optimizer" in state:
            self.d_optimiser(model, config).load_state_dict(state["d_optimizer"])
