"""Gallery of one sample per coefficient family of nn_compress.fields.

Paper 000, Sec. 4.1 (𝔄_0 … 𝔄_8, 𝔄_ms), Sec. 4.5 (smooth) and 4.6 (cracks, cf. Fig. 4.4);
paper 004, Secs. 5-6 (lognormal and hierarchical fields A = exp(g)). The paper-000 families are
shown as A on a linear scale, the lognormal ones as log10 A, with the sample's contrast.

    ./run python3 demos/plot_fields.py                 # results/fields_gallery.png
    ./run python3 demos/plot_fields.py --n-fine 64 --index 3 --out /tmp/gallery.png
"""

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nn_compress import fields  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-fine", type=int, default=fields.N_FINE_PAPER)
    parser.add_argument("--index", type=int, default=0, help="sample index of every family")
    parser.add_argument("--seed", type=int, default=0, help="base seed")
    parser.add_argument("--out", type=Path, default=Path("results/fields_gallery.png"))
    args = parser.parse_args()

    names = list(fields.FAMILIES)
    cols = 6
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.0 * rows), layout="constrained")
    for ax, name in zip(axes.flat, names):
        s = fields.sample(name, args.index, args.seed, args.n_fine)
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
    fig.suptitle(
        f"One sample per family (index {args.index}, base seed {args.seed}, {args.n_fine}² cells)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
