"""Neural-network compression of the coefficient-to-surrogate map (NN-LOD).

Papers: Kröpfl, Maier, Peterseim (2022), Sec. 2.5–2.7 and 4; Kröpfl, Peterseim, Ullmann (2025),
Secs. 5–6.

Data flows one way: ``fields`` (coefficients) → ``dataset`` (PG-LOD local matrices into one
HDF5 file, MPI-parallel over samples) → ``training`` (loss (2.9), patches cut on the device)
→ ``network`` (Ψ, eq. (4.1), optionally structure-preserving) → ``surrogate`` (Ŝ_A, eq. (4.2),
solves, Monte Carlo) → ``statistics`` (error distributions over held-out coefficients);
``pipeline`` composes dataset → network → test loss for the demos, ``figures`` draws them. The
pipeline from the command line::

    ./run mpirun -n 2 python3 demos/generate.py --preset paper000-reduced
    ./run python3 demos/train.py --dataset data/paper000-reduced.h5 --schedule reduced000 \\
        --batch-size 500
    ./run mpirun -n 2 python3 demos/paper000_experiments.py --preset reduced
    ./run mpirun -n 2 python3 demos/paper004_experiments.py --preset reduced --experiments 1 1H

(the experiment scripts generate and train what is missing themselves). Every stage takes the
space dimension d (``dim``, 2 by default, or 3 on hexahedra: fields ``[iz, iy, ix]``); the 3-D
chain is ``mpirun -n 2 python3 demos/nnlod_3d.py``.
"""

from plumbing.lazy import lazy_exports

__version__ = "0.1.0"

# The public API, imported on first use (see ``lod_fenicsx``).
_API = {
    "sample": "fields",
    "FAMILIES": "fields",
    "GenerationConfig": "dataset",
    "generate": "dataset",
    "presets": "dataset",
    "read_split": "dataset",
    "world_comm": "dataset",
    "CompressionNetwork": "network",
    "layer_sizes": "network",
    "TrainConfig": "training",
    "SCHEDULES": "training",
    "train": "training",
    "load_model": "training",
    "export_network": "training",
    "ensure_dataset": "pipeline",
    "train_network": "pipeline",
    "ensure_trained": "pipeline",
    "NNLODSurrogate": "surrogate",
    "compare": "surrogate",
    "monte_carlo": "surrogate",
    "error_distribution": "statistics",
    "summarize": "statistics",
}
__all__, __getattr__ = lazy_exports(__name__, _API)
