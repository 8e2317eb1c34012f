"""Training: the one loop every fit runs (loop.py) and where its batches come from (samplers.py)."""
from .loop import (
    Loss, StageFit, TrainConfig, autocast_dtype, cosine_factor, fit_progressive, fit_stage, make_optimiser, mse_loss,
    optimise, predict,
)
from .samplers import InMemorySampler, Sampler

__all__ = [
    "InMemorySampler", "Loss", "Sampler", "StageFit", "TrainConfig", "autocast_dtype", "cosine_factor", "fit_progressive",
    "fit_stage", "make_optimiser", "mse_loss", "optimise", "predict",
]
