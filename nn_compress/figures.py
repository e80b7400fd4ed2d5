"""Figures of the NN-LOD experiments (papers 000 and 004), written as PNG files."""

from __future__ import annotations

import numpy as np


def plot_comparison(path, coefficient, u, u_hat, title):
    """Coefficient, |u_h − û_h|, cross-sections x1 = 0.5, x2 = 0.5 (paper 000, Figs. 4.2-4.4)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = u.shape[0] - 1
    xs = np.linspace(0, 1, n + 1)
    fig, ax = plt.subplots(2, 2, figsize=(9, 7.5))
    im = ax[0, 0].imshow(coefficient, origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
    fig.colorbar(im, ax=ax[0, 0])
    ax[0, 0].set_title("coefficient A")
    im = ax[0, 1].imshow(np.abs(u - u_hat), origin="lower", extent=(0, 1, 0, 1), cmap="magma")
    fig.colorbar(im, ax=ax[0, 1], format="%.1e")
    ax[0, 1].set_title("|u_h − û_h| (coarse nodes)")
    mid = n // 2  # x = 0.5 is a coarse node line for even N_H
    ax[1, 0].plot(xs, u[:, mid], "k-", label="u_h (PG-LOD)")
    ax[1, 0].plot(xs, u_hat[:, mid], "r--", label="û_h (NN-LOD)")
    ax[1, 0].set_xlabel("x2")
    ax[1, 0].set_title("cross-section x1 = 0.5")
    ax[1, 1].plot(xs, u[mid, :], "k-", label="u_h (PG-LOD)")
    ax[1, 1].plot(xs, u_hat[mid, :], "r--", label="û_h (NN-LOD)")
    ax[1, 1].set_xlabel("x1")
    ax[1, 1].set_title("cross-section x2 = 0.5")
    ax[1, 1].legend()
    fig.suptitle(title)
    fig.tight_layout()
    # 90 dpi: the coefficient panel (a fine-scale field) compresses badly; this keeps the PNG
    # under 300 kB, the size the documentation site commits.
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_monte_carlo(path, fem, pglod, nnlod, fem_mean, pglod_mean, nnlod_mean, title):
    """FEM, PG-LOD and NN-LOD: one realization and the Monte Carlo means (paper 004, Figs. 8-10)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("one realization", (fem, pglod, nnlod))]
    if fem_mean is not None:
        rows.append(("Monte Carlo mean", (fem_mean, pglod_mean, nnlod_mean)))
    fig, ax = plt.subplots(len(rows), 3, figsize=(12, 3.8 * len(rows)), squeeze=False)
    for r, (label, fields) in enumerate(rows):
        # One colour scale per row, spanning all three (a poor surrogate may go negative).
        vmin = min(float(np.min(f)) for f in fields)
        vmax = max(float(np.max(f)) for f in fields)
        for c, (name, f) in enumerate(zip(("FEM", "PG-LOD", "NN-LOD"), fields)):
            im = ax[r, c].imshow(
                f, origin="lower", extent=(0, 1, 0, 1), vmin=vmin, vmax=vmax, cmap="viridis"
            )
            ax[r, c].set_title(f"{name}: {label}")
            fig.colorbar(im, ax=ax[r, c], format="%.1e")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_distributions(path, runs: dict, title: str):
    """Box plots of per-sample errors: a panel per quantity, a box per run (``{label: values}``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("spectral", "‖S_A − Ŝ_A‖₂", True),
        ("l2_relative", "relative L² error of û_h", True),
        ("row_sum_bias", "row-sum bias of Ŝ_A", False),
    )
    fig, ax = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8))
    labels = list(runs)
    for a, (key, label, log) in zip(ax, panels):
        a.boxplot([np.asarray(runs[r][key]) for r in labels], whis=(10, 90), showfliers=True)
        a.set_xticks(range(1, len(labels) + 1), labels)
        a.set_title(label)
        if log:
            a.set_yscale("log")
        else:
            a.axhline(0.0, color="k", lw=0.5)
    fig.suptitle(title + " (boxes: quartiles, whiskers: 10-90 %)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_slices(path, coefficient, u, u_hat, title):
    """3-D fields on the plane z = 1/2: A (fine cells just above it), u_H, û_H, |u_H − û_H|.

    ``coefficient`` is ``[iz, iy, ix]`` on the fine cells, ``u`` and ``u_hat`` on the coarse
    nodes (an even number of elements per side puts a node plane at z = 1/2).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_fine, n_coarse = coefficient.shape[0], u.shape[0] - 1
    a, u_mid, v_mid = coefficient[n_fine // 2], u[n_coarse // 2], u_hat[n_coarse // 2]
    lo, hi = min(u_mid.min(), v_mid.min()), max(u_mid.max(), v_mid.max())
    panels = (
        ("A (cells above z = 1/2)", a, "viridis", None),
        ("u_H, PG-LOD", u_mid, "viridis", (lo, hi)),
        ("û_H, NN-LOD", v_mid, "viridis", (lo, hi)),
        ("|u_H − û_H|", np.abs(u_mid - v_mid), "magma", None),
    )
    fig, ax = plt.subplots(1, 4, figsize=(14, 3.4))
    for a_, (label, field, cmap, limits) in zip(ax, panels):
        vmin, vmax = limits or (None, None)
        cells = field.shape[0] == n_fine  # cells: constant per pixel; nodes: pixel centres
        half = 0.0 if cells else 0.5 / n_coarse
        im = a_.imshow(
            field,
            origin="lower",
            extent=(-half, 1 + half, -half, 1 + half),
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            interpolation="nearest" if cells else "bilinear",
        )
        a_.set_xlim(0, 1)
        a_.set_ylim(0, 1)
        fig.colorbar(im, ax=a_, format="%.1e" if label.startswith("|") else None)
        a_.set_title(label)
        a_.set_xlabel("x1")
    ax[0].set_ylabel("x2")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
