"""Training: the one loop every fit runs (loop.py), its optimiser (adam.py) and where its batches come from (samplers.py)."""
from .adam import Adam
from .loop import (
    Loss, StageFit, TrainConfig, autocast_dtype, cosine_factor, fit_progressive, fit_stage, make_optimiser, mse_loss,
    optimise, predict, predict_lattice,
)
from .samplers import Batch, InMemorySampler, Sampler

__all__ = [
    "Adam", "Batch", "InMemorySampler", "Loss", "Sampler", "StageFit", "TrainConfig", "autocast_dtype", "cosine_factor", "fit_progressive",
    "fit_stage", "make_optimiser", "mse_loss", "optimise", "predict", "predict_lattice",
]
