"""Calibrate σ² of the lognormal and hierarchical families to a median contrast of 10, 10², 10³.

Paper 004, Sec. 5: A = exp(g), g centred Gaussian with Whittle–Matérn covariance (ν = 1,
λ = 2⁻⁵) on the 256 × 256 cell midpoints; the low-, moderate- and high-contrast classes differ
only in σ². The contrast of a sample is max A / min A = exp(σ R) with R = max g₁ - min g₁ the range
of the unit-variance field g₁ = g / σ, so the median contrast is exp(σ · median R) and

    σ = ln(target) / median R

hits a target median exactly (up to the Monte-Carlo error of median R). The hierarchical families
(Sec. 6, λ ~ U[2⁻⁵, 2⁻³] per sample) get their own σ² the same way, from the ranges of the
λ-mixture. This script estimates both medians from unit-variance samples, rounds σ² to three
digits, then measures the contrast distribution of every lognormal and hierarchical family of
nn_compress.fields (with the σ² recorded there, SIGMA2 and SIGMA2_HIERARCHICAL) and writes both
to benchmarks/contrast.json and benchmarks/contrast.md.

    ./run nice -n 10 python3 demos/calibrate_contrast.py  # 2000 + 6 x 1000 samples, minutes
    ./run python3 demos/calibrate_contrast.py --samples 100 --out /tmp/c  # a quick look
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from nn_compress import fields
from plumbing.cli import check_at_least, check_writable, run

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
CALIBRATION_SEED = 20251121  # a stream no data set uses: SeedSequence([seed, "calibration", i])


def unit_ranges(count: int, n_fine: int, hierarchical: bool = False) -> np.ndarray:
    """Ranges max g₁ - min g₁ of ``count`` unit-variance fields (ν = 1, λ = 2⁻⁵ or, for
    ``hierarchical``, λ ~ U[2⁻⁵, 2⁻³] per field)."""
    tag = fields.family_id("calibration-hierarchical" if hierarchical else "calibration")
    out = np.empty(count)
    for i in range(count):
        rng = np.random.default_rng(np.random.SeedSequence([CALIBRATION_SEED, tag, i]))
        lam = rng.uniform(fields.LAMBDA_MIN, fields.LAMBDA_MAX) if hierarchical else fields.LAMBDA
        g = fields.gaussian_field(rng, n_fine, fields.NU, lam, 1.0)
        out[i] = g.max() - g.min()
    return out


def contrast_distribution(family: str, count: int, n_fine: int, base_seed: int) -> dict:
    """Quantiles of the contrast of ``count`` samples of ``family``."""
    c = np.array([fields.sample(family, i, base_seed, n_fine).contrast for i in range(count)])
    return {
        "samples": count,
        "quantiles": {f"{q:g}": float(np.quantile(c, q)) for q in QUANTILES},
        "mean_log10": float(np.log10(c).mean()),
    }


def main(argv=None) -> int:
    """The calibration; errors go to ``plumbing.cli.run`` (one line, exit status 2)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="unit-variance fields for σ²")
    parser.add_argument("--check", type=int, default=1000, help="samples per family measured")
    parser.add_argument("--n-fine", type=int, default=fields.N_FINE_PAPER)
    parser.add_argument("--seed", type=int, default=1, help="base seed of the measured samples")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/contrast"))
    args = parser.parse_args(argv)
    # Every option, then both outputs, before minutes of sampling: a median of no range, or a
    # field of one cell (range 0), would give σ² = nan or inf in the files.
    check_at_least("--samples", args.samples, 1)
    check_at_least("--check", args.check, 0)
    check_at_least("--n-fine", args.n_fine, 2)
    check_at_least("--seed", args.seed, 0)
    for suffix in (".json", ".md"):
        check_writable(args.out.with_suffix(suffix), "output file")

    t0 = time.perf_counter()
    ranges = unit_ranges(args.samples, args.n_fine)
    median_range = float(np.median(ranges))
    median_range_h = float(np.median(unit_ranges(args.samples, args.n_fine, hierarchical=True)))
    calibrated = {}
    for c, target in fields.TARGET_CONTRAST.items():
        sigma = math.log(target) / median_range
        sigma_h = math.log(target) / median_range_h
        calibrated[c] = {
            "target_median_contrast": target,
            "sigma2_exact": sigma**2,
            "sigma2": float(f"{sigma**2:.3g}"),
            "sigma2_in_fields_py": fields.SIGMA2[c],
            "sigma2_hierarchical_exact": sigma_h**2,
            "sigma2_hierarchical": float(f"{sigma_h**2:.3g}"),
            "sigma2_hierarchical_in_fields_py": fields.SIGMA2_HIERARCHICAL[c],
        }
        print(
            f"{c:9s} target {target:g}: sigma2 = {sigma**2:.4f} (fields.py: {fields.SIGMA2[c]}); "
            f"hierarchical {sigma_h**2:.4f} (fields.py: {fields.SIGMA2_HIERARCHICAL[c]})"
        )

    measured = {}
    names = [f"{kind}-{c}" for kind in ("lognormal", "hierarchical") for c in fields.CONTRASTS]
    for name in names if args.check > 0 else []:
        measured[name] = contrast_distribution(name, args.check, args.n_fine, args.seed)
        q = measured[name]["quantiles"]
        print(f"{name:22s} contrast quantiles " + " ".join(f"{v:9.1f}" for v in q.values()))

    result = {
        "description": "Median-contrast calibration of sigma2 for the lognormal families "
        "and hierarchical families (paper 004 Secs. 5-6) and the measured contrast max A / min A "
        "per family",
        "n_fine": args.n_fine,
        "nu": fields.NU,
        "lam": fields.LAMBDA,
        "hierarchical_lam_interval": [fields.LAMBDA_MIN, fields.LAMBDA_MAX],
        "unit_variance_range": {
            "samples": args.samples,
            "median": median_range,
            "median_hierarchical": median_range_h,
            "quantiles": {f"{q:g}": float(np.quantile(ranges, q)) for q in QUANTILES},
        },
        "calibrated": calibrated,
        "measured_with_fields_py_sigma2": {"base_seed": args.seed, "families": measured},
        "seconds": time.perf_counter() - t0,
    }
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {args.out.with_suffix('.json')} and .md in {result['seconds']:.0f} s")
    return 0


def markdown(r: dict) -> str:
    lines = [
        "# Contrast calibration of the lognormal families (paper 004, Secs. 5-6)",
        "",
        f"Written by `demos/calibrate_contrast.py`. Fine grid {r['n_fine']}², ν = {r['nu']}, "
        f"λ = {r['lam']} (hierarchical: λ ~ U{r['hierarchical_lam_interval']}). "
        "Contrast = max A / min A over one sample.",
        "",
        f"Median range of a unit-variance field (max g - min g) over "
        f"{r['unit_variance_range']['samples']} samples: {r['unit_variance_range']['median']:.4f}; "
        "σ = ln(target) / median range. The hierarchical families are calibrated the same way on "
        f"the λ-mixture (median range {r['unit_variance_range']['median_hierarchical']:.4f} over "
        "λ ~ U[2⁻⁵, 2⁻³]): its longer mean correlation length narrows the range, so it needs a "
        "larger σ².",
        "",
        "| class | target median | σ² exact | σ² (3 digits) | σ² in fields.py "
        "| hierarchical σ² exact | (3 digits) | in fields.py |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c, v in r["calibrated"].items():
        lines.append(
            f"| {c} | {v['target_median_contrast']:g} | {v['sigma2_exact']:.4f} | "
            f"{v['sigma2']:g} | {v['sigma2_in_fields_py']:g} | "
            f"{v['sigma2_hierarchical_exact']:.4f} | {v['sigma2_hierarchical']:g} | "
            f"{v['sigma2_hierarchical_in_fields_py']:g} |"
        )
    m = r["measured_with_fields_py_sigma2"]
    lines += [
        "",
        f"Measured contrast with the σ² of fields.py (base seed {m['base_seed']}):",
        "",
        "| family | samples | " + " | ".join(f"q{q * 100:g}%" for q in QUANTILES) + " |",
        "|---|---|" + "---|" * len(QUANTILES),
    ]
    for name, v in m["families"].items():
        lines.append(
            f"| {name} | {v['samples']} | "
            + " | ".join(f"{x:.3g}" for x in v["quantiles"].values())
            + " |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(run("calibrate_contrast", main))
