"""Coefficient families on the fine grid: the inputs of the NN-LOD compression.

Paper 000 (Kröpfl, Maier, Peterseim 2022), Sec. 4.1: the multiscale family 𝔄 = ∪_k 𝔄_k ∪ 𝔄_ms;
Sec. 4.5 and 4.6: the smooth and the "cracks" test coefficients of Experiments 2 and 3.
Paper 004 (Kröpfl, Peterseim, Ullmann 2025), Sec. 5: lognormal fields A = exp(g) with g a centred
Gaussian field with Whittle–Matérn covariance, eq. (2.3), sampled by circulant embedding
(Dietrich and Newsam 1997); Sec. 6: hierarchical fields with a random correlation length.

Every array on the fine grid is indexed ``[iy, ix]`` (row = y, x fastest); cell (iy, ix) of the
n_fine × n_fine grid of the unit square has the midpoint ((ix + 0.5) / n_fine, (iy + 0.5) / n_fine).
In three dimensions (``dim=3``; the paper-000 hierarchy, the lognormal and hierarchical fields) the
arrays are ``[iz, iy, ix]`` on the n_fine³ cells of the unit cube, x again fastest.

A sample is a pure function of (family, index, base_seed), n_fine and dim: its generator is seeded
with ``np.random.SeedSequence([base_seed, family_id(family), index])``, so samples can be drawn on
any MPI rank, in any order.

Typical use::

    from nn_compress.fields import FAMILIES, sample
    s = sample("lognormal-moderate", index=7, base_seed=0, n_fine=256)
    s.coefficient      # A, shape (256, 256), positive
    s.network_input    # g = log A (Remark 5.1 of paper 004); A itself for the paper-000 families
    sample("Ams", 7, 0, 32, dim=3).coefficient.shape   # (32, 32, 32), [iz, iy, ix]
"""

from __future__ import annotations

import functools
import math
import re
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

import numpy as np
import scipy.fft
import scipy.special

from plumbing.checks import check_dim, check_size, check_str

# --- constants of the papers ---------------------------------------------------------------------

#: Bounds of the i.i.d. cell values of 𝔄_k, paper 000 Sec. 4.1: [α, β] = [1, 5].
ALPHA, BETA = 1.0, 5.0
#: Mesh levels k of 𝔄_k, paper 000 Sec. 4.1 (𝒯^0 … 𝒯^8, the finest one is the 256 × 256 grid).
LEVELS = tuple(range(9))
#: Smoothness ν and correlation length λ of the lognormal families, paper 004 Sec. 5 (the numbers
#: lost from our copy of the paper are the ones fixed in issue 5).
NU = 1.0
LAMBDA = 2.0**-5
#: Interval of the random correlation length of the hierarchical families, paper 004 Sec. 6.
LAMBDA_MIN, LAMBDA_MAX = 2.0**-5, 2.0**-3
#: Four representative correlation lengths in [λ_min, λ_max] for the Sec.-6 datasets: equally
#: spaced, both ends included (2⁻⁵, 2⁻⁴, 3·2⁻⁵, 2⁻³).
REPRESENTATIVE_LAMBDAS = tuple(float(v) for v in np.linspace(LAMBDA_MIN, LAMBDA_MAX, 4))
#: Target median contrast max A / min A of the three contrast classes of paper 004 Sec. 5.
TARGET_CONTRAST = MappingProxyType({"low": 1e1, "moderate": 1e2, "high": 1e3})
#: Variances σ² of g for the three contrast classes: calibrated by demos/calibrate_contrast.py so
#: the median contrast at the paper resolution (n_fine = 256, λ = 2⁻⁵, ν = 1) hits TARGET_CONTRAST;
#: the measured contrast distribution is in benchmarks/contrast.json and benchmarks/contrast.md.
SIGMA2 = MappingProxyType({"low": 0.0924, "moderate": 0.370, "high": 0.832})
#: Variances of the hierarchical families (λ ~ U[λ_min, λ_max]), calibrated the same way on the
#: λ-mixture: its longer mean correlation length lowers the range of g, so with the σ² of
#: SIGMA2 the median contrast was only 7.4, 58, 410; these restore 10, 10², 10³.
SIGMA2_HIERARCHICAL = MappingProxyType({"low": 0.120, "moderate": 0.480, "high": 1.08})
CONTRASTS = tuple(TARGET_CONTRAST)

#: The fine grid of the paper experiments (𝒯^8).
N_FINE_PAPER = 256


# --- the Whittle–Matérn covariance and circulant embedding ---------------------------------------


def whittle_matern_covariance(r, nu: float, lam: float, sigma2: float) -> np.ndarray:
    """Whittle–Matérn covariance, paper 004 eq. (2.3).

    Uses the parametrisation

        C(r) = σ² 2^{1-ν} / Γ(ν) · (√(2ν) r / λ)^ν · K_ν(√(2ν) r / λ),   C(0) = σ²,

    with K_ν the modified Bessel function of the second kind; ν = 1/2 gives σ² exp(-r/λ).

    Parameters
    ----------
    r : array_like
        Non-negative distances.
    nu, lam, sigma2 : float
        Smoothness ν > 0, correlation length λ > 0 and variance σ² ≥ 0.

    Returns
    -------
    numpy.ndarray
        C(r), float64, of the shape of ``r``.
    """
    _check_covariance_parameters(nu, lam, sigma2)
    r = np.asarray(r, dtype=float)
    if np.any(r < 0):
        raise ValueError("whittle_matern_covariance: distances r must be non-negative")
    x = math.sqrt(2.0 * nu) * r / lam
    out = np.full(r.shape, float(sigma2))
    pos = x > 0
    xp = x[pos]
    scale = sigma2 * 2.0 ** (1.0 - nu) / scipy.special.gamma(nu)
    # x^ν K_ν(x) underflows harmlessly to 0 for large x; kv is accurate for the small ones.
    out[pos] = scale * xp**nu * scipy.special.kv(nu, xp)
    return out


@dataclass(frozen=True)
class Embedding:
    """Circulant embedding of the covariance matrix of a stationary field on the cell midpoints.

    Attributes
    ----------
    n_fine : int
        The field lives on the n_fine^d cell midpoints.
    size : int
        Side m of the periodic grid of m^d points carrying the (block-)circulant embedding
        (m ≥ 2 n_fine).
    padding : int
        m = 2 · n_fine · padding.
    eigenvalues : numpy.ndarray
        The m^d eigenvalues of the embedding, shape (m,)*d, read-only, negative ones clipped to 0.
    clipped_mass : float
        Σ |negative eigenvalues| / Σ |eigenvalues| before clipping; 0 when the embedding is
        non-negative definite (up to round-off, see :func:`circulant_embedding`).
    amplitude : numpy.ndarray
        √(eigenvalues / m^d), read-only: what every sample multiplies its normal variates with.
    dim : int
        Space dimension d (2 or 3).
    """

    n_fine: int
    size: int
    padding: int
    eigenvalues: np.ndarray
    clipped_mass: float
    amplitude: np.ndarray
    dim: int = 2


#: Eigenvalues above -ROUNDOFF · max eigenvalue count as non-negative (FFT round-off).
ROUNDOFF = 1e-10


# Small: an entry holds two m x m arrays (4 MiB at n_fine = 256), and the hierarchical families
# draw a new λ per sample anyway.
@functools.lru_cache(maxsize=16)
def circulant_embedding(
    n_fine: int, nu: float, lam: float, sigma2: float, max_padding: int = 8, dim: int = 2
) -> Embedding:
    """Circulant embedding (Dietrich and Newsam 1997) of the Whittle–Matérn covariance matrix.

    The covariance between the n_fine^d cell midpoints (spacing h = 1 / n_fine) is a (d-level)
    block-Toeplitz matrix; it is the leading block of a block-circulant matrix on a periodic grid
    of m^d points whose first row is C(h · dist), dist the Euclidean norm of the periodic lags
    min(j, m - j) per axis. Its eigenvalues are the d-dimensional FFT of that row. Starting from
    m = 2 n_fine, m is doubled until every eigenvalue is non-negative (above -ROUNDOFF · max);
    when ``max_padding`` is reached first, the negative eigenvalues are clipped to 0 with a
    warning that reports the clipped mass.

    Cached per (n_fine, ν, λ, σ², d): all samples of a family share the embedding.

    Parameters
    ----------
    n_fine : int
        Cells per side of the fine grid.
    nu, lam, sigma2 : float
        Whittle–Matérn parameters, see :func:`whittle_matern_covariance`.
    max_padding : int
        Largest padding factor tried: m ≤ 2 · n_fine · max_padding.
    dim : int
        Space dimension d, 2 or 3.

    Returns
    -------
    Embedding
    """
    n_fine, dim = _check_n_fine(n_fine), check_dim(dim)
    padding = 1
    while True:
        m = 2 * n_fine * padding
        lag = np.minimum(np.arange(m), m - np.arange(m)) / n_fine
        # |lag| by nested hypot over the axes (in 2-D exactly the former hypot(ly, lx)).
        axes = [lag.reshape((m,) + (1,) * (dim - 1 - k)) for k in range(dim)]
        dist = functools.reduce(np.hypot, axes)
        row = whittle_matern_covariance(dist, nu, lam, sigma2)
        eig = scipy.fft.fftn(row).real  # row is real and even: its spectrum is real
        negative = eig < -ROUNDOFF * max(eig.max(), 0.0)
        if not negative.any() or 2 * padding > max_padding:
            break
        padding *= 2
    clipped_mass = float(-eig[eig < 0].sum() / np.abs(eig).sum()) if negative.any() else 0.0
    if negative.any():
        warnings.warn(
            f"circulant_embedding: the embedding of the Whittle–Matérn covariance (nu={nu}, "
            f"lam={lam}, sigma2={sigma2}) on {n_fine}^{dim} cells is not non-negative definite "
            f"even at padding {padding} (m = {m}); clipped negative mass {clipped_mass:.3e} of "
            "the eigenvalue sum. Raise max_padding for an exact sampler.",
            stacklevel=2,
        )
    eig = np.maximum(eig, 0.0)
    amplitude = np.sqrt(eig / m**dim)
    eig.flags.writeable = amplitude.flags.writeable = False
    return Embedding(n_fine, m, padding, eig, clipped_mass, amplitude, dim)


def gaussian_field(
    rng: np.random.Generator, n_fine: int, nu: float, lam: float, sigma2: float, dim: int = 2
) -> np.ndarray:
    """One centred Gaussian field with Whittle–Matérn covariance on the fine cell midpoints.

    With the embedding eigenvalues Λ on the grid of m^d points, the field is the leading
    n_fine^d block of Re FFT(√(Λ / m^d) ⊙ (ξ + iη)), ξ, η i.i.d. standard normal (the imaginary
    part would be a second independent sample; it is discarded so every sample owns its random
    numbers).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the normal variates (2 m^d of them).
    n_fine : int
        Cells per side.
    nu, lam, sigma2 : float
        Whittle–Matérn parameters.
    dim : int
        Space dimension d, 2 or 3.

    Returns
    -------
    numpy.ndarray
        g, float64, shape (n_fine,)*d, layout [iy, ix] or [iz, iy, ix].
    """
    n_fine, dim = _check_n_fine(n_fine), check_dim(dim)
    emb = circulant_embedding(n_fine, float(nu), float(lam), float(sigma2), dim=dim)
    m = emb.size
    xi = rng.standard_normal((2,) + (m,) * dim)
    w = emb.amplitude * (xi[0] + 1j * xi[1])
    return np.ascontiguousarray(scipy.fft.fftn(w)[(slice(n_fine),) * dim].real)


# --- samples and families ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One coefficient realisation on the fine grid.

    Attributes
    ----------
    family, index, base_seed : str, int, int
        What determines the sample.
    coefficient : numpy.ndarray
        A, float64, shape (n_fine,)*d, [iy, ix] or [iz, iy, ix], positive and finite.
    network_input : numpy.ndarray
        What the network sees: A for the paper-000 families, g = log A for the lognormal and
        hierarchical ones (paper 004 Remark 5.1). Patches reaching outside D are padded with 0
        by whoever cuts them (see lod_fenicsx.patch).
    params : Mapping[str, float]
        The sample's parameters, e.g. {"nu", "lam", "sigma2"} for the Gaussian-based families
        (λ drawn per sample for the hierarchical ones); empty for the others.
    """

    family: str
    index: int
    base_seed: int
    coefficient: np.ndarray
    network_input: np.ndarray
    params: Mapping[str, float] = field(default_factory=dict)

    @property
    def n_fine(self) -> int:
        return self.coefficient.shape[0]

    @property
    def dim(self) -> int:
        return self.coefficient.ndim

    @property
    def contrast(self) -> float:
        """max A / min A over the sample, paper 004 Sec. 2."""
        return float(self.coefficient.max() / self.coefficient.min())


@dataclass(frozen=True)
class Family:
    """A coefficient family: a name and a rule drawing one sample from a generator.

    Subclasses implement :meth:`draw`; :func:`sample` seeds the generator. ``DIMS`` lists the
    space dimensions the family is defined in.
    """

    DIMS: ClassVar[tuple[int, ...]] = (2,)

    name: str
    description: str

    @property
    def id(self) -> int:
        """Stable integer id of the family, the second SeedSequence entry."""
        return family_id(self.name)

    def draw(
        self, rng: np.random.Generator, n_fine: int, dim: int = 2
    ) -> tuple[np.ndarray, np.ndarray, dict]:
        """Return (coefficient, network_input, params) drawn from ``rng``, arrays (n_fine,)*dim."""
        raise NotImplementedError


def _level_field(rng: np.random.Generator, level: int, n_fine: int, dim: int = 2) -> np.ndarray:
    """i.i.d. U[α, β] on the grid of 2^level cells per side, prolonged to n_fine^d cells (the
    level capped at log2 n_fine)."""
    n_level = min(2**level, n_fine)
    values = rng.uniform(ALPHA, BETA, size=(n_level,) * dim)
    block = n_fine // n_level
    for axis in range(dim):
        values = np.repeat(values, block, axis=axis)
    return values


def _check_power_of_two(name: str, n_fine: int) -> None:
    if n_fine & (n_fine - 1):
        raise ValueError(
            f"family {name!r}: n_fine = {n_fine} must be a power of two, since its coefficients "
            "are piecewise constant on the dyadic grids of 2^k cells per side"
        )


@dataclass(frozen=True)
class LevelFamily(Family):
    """𝔄_k of paper 000 Sec. 4.1: i.i.d. U[1, 5] on the grid of 2^k cells per side, prolonged to
    the fine grid (2-D or 3-D).

    When 2^k > n_fine (tiny test grids) the level is capped at the fine grid: i.i.d. per cell.
    """

    DIMS: ClassVar[tuple[int, ...]] = (2, 3)

    level: int = 0

    def draw(self, rng, n_fine, dim=2):
        _check_power_of_two(self.name, n_fine)
        a = _level_field(rng, self.level, n_fine, dim)
        return a, a, {}


@dataclass(frozen=True)
class MultiscaleFamily(Family):
    """𝔄_ms of paper 000 Sec. 4.1: A = (1/9) Σ_{k=0}^{8} A_k, A_k ∈ 𝔄_k drawn independently."""

    DIMS: ClassVar[tuple[int, ...]] = (2, 3)

    def draw(self, rng, n_fine, dim=2):
        _check_power_of_two(self.name, n_fine)
        a = sum(_level_field(rng, k, n_fine, dim) for k in LEVELS) / len(LEVELS)
        return a, a, {}


def cell_midpoints(n_fine: int, dim: int = 2) -> tuple[np.ndarray, ...]:
    """Midpoint coordinates (x1, x2[, x3]) of the fine cells, each of shape (n_fine,)*d, in the
    layout [iy, ix] ([iz, iy, ix])."""
    t = (np.arange(_check_n_fine(n_fine)) + 0.5) / n_fine
    return tuple(np.meshgrid(*(t,) * check_dim(dim), indexing="ij")[::-1])


@dataclass(frozen=True)
class SmoothFamily(Family):
    """A = 2 + sin(2π x1) sin(2π x2) at the fine-cell midpoints, paper 000 Sec. 4.5 (Exp. 2).

    Deterministic: every index gives the same field.
    """

    def draw(self, rng, n_fine, dim=2):
        x1, x2 = cell_midpoints(n_fine)
        a = 2.0 + np.sin(2 * np.pi * x1) * np.sin(2 * np.pi * x2)
        return a, a, {}


@dataclass(frozen=True)
class CracksFamily(Family):
    """Background U[1, 2] with thin "cracks" U[4, 5], paper 000 Sec. 4.6 (Exp. 3).

    Our construction (the paper shows the field only as a picture): every fine cell draws an
    i.i.d. background value in U[1, 2]. Then ``n_cracks`` ∈ {min_cracks, …, max_cracks}
    (uniform) straight segments are drawn, each with its centre uniform in [0.1, 0.9]², direction
    uniform in [0, π) and length uniform in [min_length, max_length]. A cell belongs to a crack
    when its midpoint lies within the half-width w/2 of a segment, w = max(width, 1.5 / n_fine)
    (at least about one cell wide on any grid; two cells at n_fine = 256); the parts leaving the
    unit square are cut off. Every crack cell then draws an i.i.d. value in U[4, 5].
    """

    min_cracks: int = 5
    max_cracks: int = 10
    min_length: float = 0.2
    max_length: float = 0.6
    width: float = 2.0 / 256

    def draw(self, rng, n_fine, dim=2):
        a = rng.uniform(1.0, 2.0, size=(n_fine, n_fine))
        n_cracks = int(rng.integers(self.min_cracks, self.max_cracks + 1))
        centre = rng.uniform(0.1, 0.9, size=(n_cracks, 2))
        angle = rng.uniform(0.0, np.pi, size=n_cracks)
        length = rng.uniform(self.min_length, self.max_length, size=n_cracks)
        direction = np.stack([np.cos(angle), np.sin(angle)], axis=1)
        start = centre - 0.5 * length[:, None] * direction
        x1, x2 = cell_midpoints(n_fine)
        p = np.stack([x1.ravel(), x2.ravel()], axis=1)  # (cells, 2)
        # Distance of every midpoint to every segment: project, clamp to [0, length], measure.
        rel = p[None, :, :] - start[:, None, :]  # (cracks, cells, 2)
        t = np.clip(np.einsum("cpd,cd->cp", rel, direction), 0.0, length[:, None])
        dist = np.linalg.norm(rel - t[..., None] * direction[:, None, :], axis=2)
        half_width = 0.5 * max(self.width, 1.5 / n_fine)
        crack = (dist <= half_width).any(axis=0).reshape(n_fine, n_fine)
        a[crack] = rng.uniform(4.0, 5.0, size=int(crack.sum()))
        return a, a, {"n_cracks": float(n_cracks)}


@dataclass(frozen=True)
class LognormalFamily(Family):
    """A = exp(g), g centred Gaussian with Whittle–Matérn covariance (ν, λ, σ²), paper 004 Sec. 5.

    g is sampled at the fine-cell midpoints by circulant embedding (:func:`gaussian_field`), in
    2-D or 3-D with the same (ν, λ, σ²) (σ² is calibrated for the contrast of 2-D fields);
    the network input is g (paper 004 Remark 5.1).
    """

    DIMS: ClassVar[tuple[int, ...]] = (2, 3)

    nu: float = NU
    lam: float = LAMBDA
    sigma2: float = 1.0

    def draw(self, rng, n_fine, dim=2):
        g = gaussian_field(rng, n_fine, self.nu, self.lam, self.sigma2, dim)
        return np.exp(g), g, {"nu": self.nu, "lam": self.lam, "sigma2": self.sigma2}


@dataclass(frozen=True)
class HierarchicalFamily(Family):
    """Hierarchical lognormal field, paper 004 Sec. 6: λ ~ U[λ_min, λ_max], then A = exp(g).

    Per sample, λ is drawn first from the sample's generator, then g given λ as in
    :class:`LognormalFamily`; λ is returned in the sample's params.
    """

    DIMS: ClassVar[tuple[int, ...]] = (2, 3)

    nu: float = NU
    lam_min: float = LAMBDA_MIN
    lam_max: float = LAMBDA_MAX
    sigma2: float = 1.0

    def draw(self, rng, n_fine, dim=2):
        lam = float(rng.uniform(self.lam_min, self.lam_max))
        g = gaussian_field(rng, n_fine, self.nu, lam, self.sigma2, dim)
        return np.exp(g), g, {"nu": self.nu, "lam": lam, "sigma2": self.sigma2}


def _build_families() -> dict[str, Family]:
    fams: dict[str, Family] = {}
    for k in LEVELS:
        fams[f"A{k}"] = LevelFamily(f"A{k}", f"paper 000 Sec. 4.1: 𝔄_{k}", level=k)
    fams["Ams"] = MultiscaleFamily("Ams", "paper 000 Sec. 4.1: 𝔄_ms = (1/9) Σ_k 𝔄_k")
    fams["smooth"] = SmoothFamily("smooth", "paper 000 Sec. 4.5: 2 + sin(2πx1) sin(2πx2)")
    fams["cracks"] = CracksFamily("cracks", "paper 000 Sec. 4.6: U[1,2] with cracks U[4,5]")
    for c in CONTRASTS:
        name = f"lognormal-{c}"
        fams[name] = LognormalFamily(
            name, f"paper 004 Sec. 5: exp(g), λ = 2⁻⁵, {c} contrast", sigma2=SIGMA2[c]
        )
    for c in CONTRASTS:
        name = f"hierarchical-{c}"
        fams[name] = HierarchicalFamily(
            name,
            f"paper 004 Sec. 6: exp(g), λ ~ U[2⁻⁵, 2⁻³], {c} contrast",
            sigma2=SIGMA2_HIERARCHICAL[c],
        )
    return fams


#: The named families, in a fixed order: name -> Family.
FAMILIES: Mapping[str, Family] = MappingProxyType(_build_families())

_FIXED_LAMBDA = re.compile(
    r"^(?P<kind>lognormal|hierarchical)-(?P<contrast>[a-z]+)-lam(?P<lam>.+)$"
)
#: σ² of the fixed-λ families of each kind: a 'hierarchical-…-lam…' family is a slice of the
#: hierarchical family at one λ, so it keeps that family's σ².
_FIXED_LAMBDA_SIGMA2 = MappingProxyType({"lognormal": SIGMA2, "hierarchical": SIGMA2_HIERARCHICAL})


def fixed_lambda_name(kind: str, contrast: str, lam: float) -> str:
    """Name of a lognormal field of one contrast class at a fixed λ.

    E.g. 'hierarchical-low-lam0.0625'. ``kind`` picks the σ² (SIGMA2 for 'lognormal',
    SIGMA2_HIERARCHICAL for 'hierarchical'). These families are not listed in FAMILIES but
    :func:`get_family` and :func:`sample` accept their names; paper 004 Sec. 6 builds its datasets
    at representative λ (REPRESENTATIVE_LAMBDAS).
    """
    if kind not in _FIXED_LAMBDA_SIGMA2:
        raise ValueError(f"unknown kind {kind!r}; use 'lognormal' or 'hierarchical'")
    if contrast not in TARGET_CONTRAST:
        raise ValueError(f"unknown contrast class {contrast!r}; known: {', '.join(CONTRASTS)}")
    lam = float(lam)
    if not (math.isfinite(lam) and lam > 0):
        raise ValueError(f"fixed_lambda_name: correlation length lam = {lam} must be positive")
    return f"{kind}-{contrast}-lam{lam!r}"


def representative_families(contrast: str) -> tuple[str, ...]:
    """The hierarchical family of a contrast class at REPRESENTATIVE_LAMBDAS, paper 004 Sec. 6."""
    return tuple(fixed_lambda_name("hierarchical", contrast, lam) for lam in REPRESENTATIVE_LAMBDAS)


def get_family(name: str) -> Family:
    """The family called ``name``: a key of FAMILIES or a :func:`fixed_lambda_name`."""
    check_str("family", name)
    if name in FAMILIES:
        return FAMILIES[name]
    match = _FIXED_LAMBDA.match(name)
    if match and match["contrast"] in TARGET_CONTRAST:
        try:
            lam = float(match["lam"])
        except ValueError:
            lam = math.nan
        if math.isfinite(lam) and lam > 0:
            canonical = fixed_lambda_name(match["kind"], match["contrast"], lam)
            if name != canonical:
                raise ValueError(f"family {name!r}: write the correlation length as {canonical!r}")
            return _fixed_lambda_family(canonical, match["kind"], match["contrast"], lam)
    raise ValueError(
        f"unknown coefficient family {name!r}; known: {', '.join(FAMILIES)}, "
        "and <lognormal|hierarchical>-<low|moderate|high>-lam<λ> (see fixed_lambda_name)"
    )


@functools.lru_cache(maxsize=64)
def _fixed_lambda_family(name: str, kind: str, contrast: str, lam: float) -> LognormalFamily:
    return LognormalFamily(
        name, f"paper 004 Sec. 6: exp(g), λ = {lam}, σ² of the {kind} {contrast}-contrast family",
        lam=lam, sigma2=_FIXED_LAMBDA_SIGMA2[kind][contrast],
    )  # fmt: skip


def family_id(name: str) -> int:
    """Stable id of a family name: CRC32 of its UTF-8 bytes (never Python's salted ``hash``)."""
    return zlib.crc32(name.encode("utf-8"))


def sample(family: str, index: int, base_seed: int, n_fine: int, dim: int = 2) -> Sample:
    """Sample number ``index`` of ``family`` on the grid of n_fine^d cells.

    The generator is seeded with SeedSequence([base_seed, family_id(family), index]) alone, so the
    sample does not depend on which process draws it or in which order.

    Parameters
    ----------
    family : str
        A key of FAMILIES or a :func:`fixed_lambda_name`.
    index : int
        Non-negative sample number.
    base_seed : int
        Non-negative seed of the whole data set.
    n_fine : int
        Cells per side of the fine grid (a power of two for the 𝔄_k families; 256 in the papers).
    dim : int
        Space dimension d: 2 (unit square, [iy, ix]) or 3 (unit cube, [iz, iy, ix]; the 𝔄_k,
        𝔄_ms, lognormal and hierarchical families).

    Returns
    -------
    Sample
        The coefficient A and the network input on the n_fine^d cells, with the sample's
        parameters.

    Raises
    ------
    ValueError
        If the family is unknown or not defined in ``dim``, an argument is out of range, or the
        draw is not positive and finite.

    Examples
    --------
    A draw of 𝔄_1 (cell values in [1, 5]) on an 8 x 8 grid:

    >>> a = sample("A1", 0, 1, 8).coefficient
    >>> a.shape, bool(a.min() >= 1.0 and a.max() <= 5.0)
    ((8, 8), True)
    """
    fam = get_family(family)
    index = check_size("index", index, 0)
    base_seed = check_size("base_seed", base_seed, 0)
    n_fine, dim = _check_n_fine(n_fine), check_dim(dim)
    if dim not in fam.DIMS:
        raise ValueError(
            f"family {family!r} is defined in {' and '.join(f'{d}-D' for d in fam.DIMS)} only, "
            f"not in {dim}-D; 3-D families: {', '.join(families_in(3))}"
        )
    rng = np.random.default_rng(np.random.SeedSequence([base_seed, fam.id, index]))
    a, net, params = fam.draw(rng, n_fine, dim)
    if not (np.all(np.isfinite(a)) and np.all(a > 0)):
        raise ValueError(
            f"sample {index} of {family!r} (base_seed {base_seed}) is not positive and finite: "
            f"min {a.min()}, max {a.max()}"
        )
    return Sample(family, index, base_seed, a, net, params)


def families_in(dim: int) -> tuple[str, ...]:
    """Names of the FAMILIES defined in dimension ``dim`` (fixed-λ families follow their kind)."""
    return tuple(name for name, fam in FAMILIES.items() if dim in fam.DIMS)


# --- argument checks -----------------------------------------------------------------------------


def _check_n_fine(n_fine) -> int:
    """Cells per side of the fine grid, an integer >= 1."""
    return check_size("n_fine", n_fine)


def _check_covariance_parameters(nu, lam, sigma2) -> None:
    if not (nu > 0 and lam > 0 and sigma2 >= 0 and math.isfinite(nu * lam * sigma2)):
        raise ValueError(
            f"Whittle–Matérn parameters need nu > 0, lam > 0, sigma2 >= 0; got nu={nu}, "
            f"lam={lam}, sigma2={sigma2}"
        )
