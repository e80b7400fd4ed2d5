# %% [markdown]
# # The coefficient families: one sample of each
#
# The coefficients the networks are trained and tested on (`nn_compress.fields`): paper 000,
# Sec. 4.1 (𝔄_0 … 𝔄_8 with i.i.d. values on 2^k cells per side, and the multiscale family 𝔄_ms),
# Sec. 4.5 (smooth) and Sec. 4.6 (cracks, cf. Fig. 4.4: the crack geometry is ours); paper 004,
# Secs. 5–6 (lognormal fields A = exp(g) of three contrasts, and hierarchical fields whose
# correlation length λ is itself random). The paper-000 families are drawn as A on a linear
# scale, the lognormal ones as log10 A; each panel gives the sample's contrast max A / min A.
#
# ```bash
# ./run python3 demos/plot_fields.py                 # results/fields_gallery.png
# ./run python3 demos/plot_fields.py --n-fine 64 --index 3 --out /tmp/gallery.png
# ```
#
# The script is in the jupytext "percent" layout: its Markdown cells are the text of its page on
# the documentation site, and it runs as it is.

# %%
"""Gallery of one sample per coefficient family of nn_compress.fields (papers 000 and 004)."""

import argparse
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nn_compress import fields  # noqa: E402
from plumbing.cli import check_at_least, check_writable, run  # noqa: E402

# %% [markdown]
# A sample is a pure function of (family, index, base seed, grid), so the gallery of a given
# index and seed is the same on every machine and every rank count. `fields.sample` returns the
# coefficient on the fine cells, indexed `[iy, ix]`, with its contrast and the parameters drawn
# (λ for the hierarchical families).


# %%
def gallery(n_fine: int, index: int, seed: int):
    """One panel per family of ``fields.FAMILIES``: sample ``index`` of base seed ``seed``."""
    names = list(fields.FAMILIES)
    cols = 6
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.0 * rows), layout="constrained")
    for ax, name in zip(axes.flat, names):
        s = fields.sample(name, index, seed, n_fine)
        log_scale = isinstance(
            fields.get_family(name), (fields.LognormalFamily, fields.HierarchicalFamily)
        )
        shown = np.log10(s.coefficient) if log_scale else s.coefficient
        im = ax.imshow(shown, origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
        title = name + (f", λ={s.params['lam']:.3g}" if "lam" in s.params else "")
        ax.set_title(f"{title}\ncontrast {s.contrast:.3g}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, shrink=0.8, label="log10 A" if log_scale else "A")
    for ax in axes.flat[len(names) :]:
        ax.set_axis_off()
    fig.suptitle(f"One sample per family (index {index}, base seed {seed}, {n_fine}² cells)")
    return fig


# %% [markdown]
# The command line: the grid (the papers' 256 × 256 fine cells by default), the sample index,
# the base seed and the output file.


# %%
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-fine", type=int, default=fields.N_FINE_PAPER)
    parser.add_argument("--index", type=int, default=0, help="sample index of every family")
    parser.add_argument("--seed", type=int, default=0, help="base seed")
    parser.add_argument("--out", type=Path, default=Path("results/fields_gallery.png"))
    parser.add_argument("--dpi", type=int, default=110, help="resolution of the PNG")
    args = parser.parse_args(argv)
    # Every option before drawing, and the file before the folder is made.
    for name, least in (("--n-fine", 1), ("--index", 0), ("--seed", 0), ("--dpi", 1)):
        check_at_least(name, getattr(args, name[2:].replace("-", "_")), least)
    if args.n_fine & (args.n_fine - 1):
        raise ValueError(
            f"--n-fine {args.n_fine}: must be a power of two (the 𝔄_k families are piecewise "
            "constant on 2^k cells per side), e.g. 64 or 256"
        )
    check_writable(args.out, "output file")

    fig = gallery(args.n_fine, args.index, args.seed)
    fig.savefig(args.out, dpi=args.dpi)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run("plot_fields", main))
