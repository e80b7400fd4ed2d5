"""Piecewise constant coefficients A_ε on the fine cells: validation and DOLFINx DG0 functions.

A coefficient is an ``[iy, ix]`` array (row = y, C order) of shape
``(n_coarse n_sub, n_coarse n_sub)`` with one positive finite value per fine cell; in 3-D an
``[iz, iy, ix]`` array of shape ``(n_coarse n_sub,) * 3`` (x fastest).
"""

from __future__ import annotations

import numpy as np

from plumbing.checks import check_dim, check_finite, check_real_dtype, check_size, check_str

# Where float64 and the solvers still work, measured on 4 x 4 coarse cells: u scales as 1/A, so
# beyond 1e±30 the fine reference stops at PETSc's absolute tolerance (1e-50, on a residual of
# size f/A) and squared norms of u leave float64 (A = 1e60 gives u_h = 0, 1e-300 NaN); beyond a
# contrast max/min of 1e12 the local saddle point problems are singular in float64 (PETSc's
# factorisation fails at 1e14).
VALUE_RANGE = (1e-30, 1e30)
MAX_CONTRAST = 1e12


def _first_index(mask: np.ndarray) -> list[int]:
    return [int(i) for i in np.argwhere(mask)[0]]


def validate_coefficient(
    coefficient, n_coarse: int, n_sub: int, name: str = "coefficient", dim: int = 2
) -> np.ndarray:
    """Check a fine coefficient and return it as a C-ordered float64 array.

    Accepted: real, finite values in [1e-30, 1e30] (``VALUE_RANGE``) with a contrast max/min
    of at most 1e12 (``MAX_CONTRAST``), beyond which the local problems are singular in
    float64.

    Parameters
    ----------
    coefficient : array_like
        A_ε on the fine cells, ``[iy, ix]`` (``[iz, iy, ix]``) of shape
        ``(n_coarse n_sub,) * dim``.
    n_coarse : int
        Coarse elements per side.
    n_sub : int
        Fine cells per coarse element per side.
    name : str
        What the messages call the array.
    dim : int
        The space dimension d, 2 or 3.

    Returns
    -------
    numpy.ndarray
        The coefficient as a C-contiguous float64 array (the input itself where it is one).

    Raises
    ------
    TypeError
        If ``n_coarse``, ``n_sub`` or ``dim`` is not an integer, or the dtype is not real
        (bool, complex, strings; ``plumbing.checks.ArgumentTypeError``, a ValueError too).
    ValueError
        If the shape is not ``(n_coarse n_sub,) * dim`` or entries are non-finite, non-positive
        or out of range; the message gives the number of bad entries and the first index
        (``[iy, ix]`` in 2-D, ``[iz, iy, ix]`` in 3-D).

    Examples
    --------
    >>> import numpy as np
    >>> validate_coefficient(np.ones((8, 8)), 4, 2).dtype
    dtype('float64')
    >>> validate_coefficient(-np.ones((8, 8)), 4, 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: coefficient has 64 non-positive value(s); first at [iy, ix] = [0, 0] ...
    """
    check_str("name", name)
    n_coarse, n_sub = check_size("n_coarse", n_coarse), check_size("n_sub", n_sub)
    dim = check_dim(dim)
    arr = np.asarray(coefficient)
    expected = (n_coarse * n_sub,) * dim
    axes = "[iy, ix]" if dim == 2 else "[iz, iy, ix]"
    if arr.shape != expected:
        raise ValueError(
            f"{name} has shape {arr.shape}, expected {expected} = (n_coarse*n_sub,) * {dim} "
            f"for n_coarse={n_coarse}, n_sub={n_sub}, indexed {axes}"
        )
    check_real_dtype(name, arr.dtype)
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    check_finite(name, arr, axes)
    bad = arr <= 0
    if bad.any():
        first = _first_index(bad)
        raise ValueError(
            f"{name} has {int(bad.sum())} non-positive value(s); first at {axes} = {first} "
            f"(value {arr[tuple(first)]:g}); a diffusion coefficient must be > 0"
        )
    low, high = arr.min(), arr.max()
    if low < VALUE_RANGE[0] or high > VALUE_RANGE[1]:
        bad = (arr < VALUE_RANGE[0]) | (arr > VALUE_RANGE[1])
        first = _first_index(bad)
        raise ValueError(
            f"{name} has {int(bad.sum())} value(s) outside [{VALUE_RANGE[0]:g}, "
            f"{VALUE_RANGE[1]:g}]; first at {axes} = {first} (value {arr[tuple(first)]:g}): "
            "float64 and the solvers do not reach there; rescale A (u scales as 1/A)"
        )
    if high > MAX_CONTRAST * low:
        raise ValueError(
            f"{name} has the contrast max/min = {high:g}/{low:g} = {high / low:.3g}, above "
            f"{MAX_CONTRAST:g}: its local problems are singular in float64; lower the contrast"
        )
    return arr


def coefficient_function(discretization, coefficient: np.ndarray):
    """The coefficient as a DOLFINx DG0 function on the fine mesh (cells matched by midpoints)."""
    from dolfinx import fem

    d = discretization
    arr = validate_coefficient(coefficient, d.n_coarse, d.n_sub, dim=getattr(d, "dim", 2))
    space = fem.functionspace(discretization.fine_mesh, ("DG", 0))
    func = fem.Function(space, name="A")
    owned = discretization.fine_cells()
    # DG0 dofs of owned cells follow the cell numbering; ghosts are filled by scatter_forward.
    dofs = space.dofmap.list[: owned.size, 0]
    func.x.array[dofs] = arr.ravel()[owned]
    func.x.scatter_forward()
    return func
