"""The checkpoint contract of the project's torch trainers (NN-LOD and the hybrid PINN).

* ``save_atomic``: a checkpoint appears whole or not at all (written beside, then renamed);
* ``rng_state`` / ``set_rng_state``: every random generator a run draws from (torch, CUDA, NumPy,
  Python), so that a resumed run reproduces the uninterrupted one;
* ``NonFiniteLossError``: the one error of a loss that became NaN or infinite (a user error in the
  sense of ``lod_fenicsx.cli``: one line, exit status 2).

Each trainer stores its configuration in the checkpoint and refuses to resume with another one.
"""

from __future__ import annotations

import os
import pathlib
import random

import numpy as np
import torch


class NonFiniteLossError(ValueError):
    """Training stopped because the loss became NaN or infinite (bad data or too large a step)."""


def save_atomic(obj, path) -> None:
    """``torch.save`` to ``path`` so that a crash leaves the previous file or the new one, whole."""
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rng_state() -> dict:
    """The state of every random generator a run may draw from."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what ``rng_state`` saved."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
