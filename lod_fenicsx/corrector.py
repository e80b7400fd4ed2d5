"""Element correctors Q_T λ_j and local PG-LOD matrices S_{A,T} (paper 000, eqs. (3.5), (3.9)).

All padded patches share one geometry (``lod_fenicsx.patch``), in 2-D or 3-D: a cube of
(2ℓ+1)^d coarse elements, each cut into n^d fine cells, the coefficient being 0 outside D. The
unknowns of a patch are the (m−1)^d fine nodes strictly inside it (m = (2ℓ+1) n) and one
multiplier per coarse node of the patch that is interior to D; fine nodes on ∂D or beyond it are
eliminated. With Neumann faces (``lod_fenicsx.boundary``) the nodes on them are unknowns too,
coarse and fine; where such a face is a face of the padded patch itself, the patch is solved
with the nodes on that face as unknowns too (``PetscBackend(faces=...)``).
Per patch the saddle point problem

    [K C^T; C 0] [Q; μ] = [b; 0],    b_j = (A∇λ_j, ∇w)_T,  C = I_H of the patch,

gives the correctors of T's 2^d hats, and S_{A,T} = P^T (K_T(A) P λ_T − K(A) Q) with P the
coarse hats of the patch on its fine nodes. The backends work on the reference patch of unit
fine cells; the Q1 stiffness on cells of side h carries h^(d−2), applied to S_{A,T} at the end
(1 in 2-D), while Q is scale free.

How the saddle point problems are solved is a backend, one class with one interface
(``solve(keys, windows, want_correctors)``, gridlod's swappable saddle solvers are the model):

* ``"petsc"`` (default, ``lod_fenicsx.corrector_petsc``): one sparse LDL^T per patch, CPU,
  2-D (PETSc's native Cholesky) and 3-D (MUMPS where PETSc has it);
* ``"torch"`` (``lod_fenicsx.corrector_torch``): batched block-tridiagonal Cholesky of whole
  batches of patches on the CPU or a GPU, importable with torch + NumPy alone; 2-D only;
* ``"condensed"`` (``lod_fenicsx.corrector_condensed``): the interior of every coarse element
  eliminated once for all the patches that hold it, then one sparse LDL^T of each patch's
  skeleton (PETSc, CPU); 2-D only, the fastest on the CPU.

All give the same matrices to round-off (tests: 1e-10 relative or better).
"""

from __future__ import annotations

import numpy as np

from lod_fenicsx.boundary import check_data, element_flux_loads, neumann_mask
from lod_fenicsx.coefficient import validate_coefficient
from lod_fenicsx.q1 import stiffness_scale
from lod_fenicsx.patch import (
    constrained_coarse_nodes,
    element_node_positions,
    free_fine_nodes,
    open_faces,
    pad_field,
    padded_cell_indices,
    padded_node_indices,
    patch_type,
)
from plumbing.checks import (
    ArgumentTypeError,
    check_choice,
    check_dim,
    check_indices,
    check_optional_size,
    check_size,
)

BACKENDS = ("petsc", "torch", "condensed")
BACKEND_DIMS = {"petsc": (2, 3), "torch": (2,), "condensed": (2,)}


def _check_backend_dim(name: str, dim: int) -> None:
    dims = BACKEND_DIMS.get(name, (dim,))  # unknown names are refused by make_backend
    if dim not in dims:
        shown = "/".join(str(k) for k in dims)
        raise ValueError(f"the {name} backend is {shown}-D only; use backend='petsc'")


def make_backend(name: str, n_sub: int, ell: int, dim: int = 2, **options):
    """The backend ``name`` for the reference patch of (n, ℓ, d); imports only what it needs."""
    _check_backend_dim(name, dim)
    if name == "petsc":
        try:
            from lod_fenicsx.corrector_petsc import PetscBackend
        except ImportError as e:
            raise ValueError(
                f"the petsc corrector backend needs petsc4py ({e}); use the torch backend"
            ) from None
        return PetscBackend(n_sub, ell, dim=dim, **options)
    if name == "torch":
        from lod_fenicsx.corrector_torch import TorchBackend

        return TorchBackend(n_sub, ell, **options)
    if name == "condensed":
        from lod_fenicsx.corrector_condensed import CondensedBackend

        return CondensedBackend(n_sub, ell, **options)
    raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")


class PatchSolver:
    """Element correctors and local PG-LOD matrices for every patch of one discretization.

    Parameters
    ----------
    n_coarse : int
        Coarse elements per side N_H.
    n_sub : int
        Fine cells per coarse element per side n.
    ell : int
        Oversampling layers ℓ of the patches N^ℓ(T).
    backend : str or backend object
        ``"petsc"`` (default), ``"condensed"`` (2-D, faster on the CPU), ``"torch"`` (2-D, CPU
        or GPU), or a backend object.
    dim : int
        Space dimension d: 2 (quadrilaterals, coefficient ``[iy, ix]``) or 3 (hexahedra,
        coefficient ``[iz, iy, ix]``).
    neumann : sequence of str, optional
        Faces of D with a homogeneous Neumann condition, e.g. ``("y0", "y1")``; the others are
        Dirichlet (``lod_fenicsx.boundary``). Default None: all Dirichlet. The petsc backend
        only.
    **options
        Passed to the backend, e.g. ``factor_solver="mumps"`` (petsc) or
        ``device="cuda", batch_size=2048`` (torch).

    Notes
    -----
    A solver works on one process (COMM_SELF); distribute patches over ranks
    (``pglod.distributed_local_matrices``) or whole samples.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.random.default_rng(0).uniform(1.0, 5.0, (16, 16))
    >>> PatchSolver(4, 4, 1, backend="condensed").local_matrices(a).shape
    (16, 16, 4)
    """

    def __init__(
        self,
        n_coarse: int,
        n_sub: int,
        ell: int,
        backend="petsc",
        dim: int = 2,
        neumann=None,
        **options,
    ):
        self.n_coarse, self.n_sub = check_size("n_coarse", n_coarse), check_size("n_sub", n_sub)
        self.ell, self.dim = check_size("ell", ell, 0), check_dim(dim)
        dim = self.dim
        if isinstance(backend, str):
            check_choice("backend", backend, BACKENDS)
        elif not callable(getattr(backend, "solve", None)):
            raise ArgumentTypeError(
                f"backend must be a name {BACKENDS} or a backend object, got {backend!r}"
            )
        if "batch_size" in options:
            check_optional_size("batch_size", options["batch_size"])
        self.neumann = neumann_mask(neumann, dim)
        if self.neumann.any() and self.n_sub > 1 and backend != "petsc":
            raise ValueError(
                f"neumann: the {getattr(backend, 'name', backend)} backend solves all-Dirichlet "
                "problems only; use backend='petsc' with Neumann faces"
            )
        self.s = 2 * self.ell + 2  # coarse nodes per side of the padded patch
        self.n_all = ((2 * self.ell + 1) * self.n_sub + 1) ** dim  # fine nodes of the padded patch
        self.n_elements = self.n_coarse**dim
        # The backends assemble on unit fine cells; Q1 stiffness scales with h^(d-2) (1.0 in 2-D).
        self.stiffness_scale = stiffness_scale(self.n_coarse * self.n_sub, dim)
        # With ℓ >= N_H − 1 every patch is all of D; a larger ℓ only adds padding outside D.
        # Solve on ℓ_D = min(ℓ, N_H − 1) and embed the results into the requested layout.
        self.ell_solved = min(self.ell, self.n_coarse - 1)
        if self.n_sub == 1:
            backend = NoFineScale(self.ell_solved, dim)  # V_h = V_H: the correctors vanish
        elif isinstance(backend, str):
            _check_backend_dim(backend, dim)  # before check_memory imports torch
            check_memory(
                backend,
                self.n_sub,
                self.ell_solved,
                options.get("batch_size"),
                device=options.get("device", "auto"),
                patches=self.n_elements,
                dim=dim,
            )
            if self.neumann.any():
                options["neumann"] = self.neumann
            backend = make_backend(backend, self.n_sub, self.ell_solved, dim, **options)
        elif options:
            raise ValueError("backend options go with a backend name, not a backend object")
        self.backend = backend
        e = self.ell_solved
        self.cell_index = padded_cell_indices(self.n_coarse, self.n_sub, e, dim)
        self.node_index = padded_node_indices(self.n_coarse, e, dim, self.neumann)
        self.keys = np.array([patch_type(self.n_coarse, e, t, dim) for t in range(self.n_elements)])
        for key in {tuple(k) for k in self.keys.tolist()}:
            faces = open_faces(key, e, self.neumann)
            unknowns, constraints = (
                free_fine_nodes(key, self.n_sub, e, self.neumann, faces).sum(),
                constrained_coarse_nodes(key, e, self.neumann).sum(),
            )
            if self.n_sub > 1 and unknowns < constraints:
                raise ValueError(
                    f"n_sub = {self.n_sub}, ell = {self.ell}: a patch has {unknowns} fine "
                    f"unknown(s) for {constraints} constraints, so its corrector problem is "
                    "singular; use n_sub >= 3 or ell >= 1"
                )

    @property
    def timings(self) -> dict:
        """Seconds per phase of the backend since the last ``reset_timings``."""
        return self.backend.timings

    def reset_timings(self):
        self.backend.timings.clear()

    def type_key(self, t: int) -> tuple[int, ...]:
        """Position of the patch of element t relative to ∂D (``lod_fenicsx.patch.patch_type``)."""
        return tuple(int(v) for v in self.keys[t])

    def close(self):
        """Release the backend's resources (PETSc objects, device memory)."""
        self.backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the computation ------------------------------------------------------------------
    def _elements(self, elements) -> np.ndarray:
        n_el = self.n_elements
        if elements is None:
            return np.arange(n_el)
        return check_indices("elements", elements, n_el)  # 1.5 is not element 1

    def _solve(self, coefficient, elements, mask: bool, want_correctors: bool = False, flux=None):
        coefficient = self._validate(coefficient)
        elements = self._elements(elements)
        d, nl = self.dim, 2**self.dim  # T's nodes: the columns of S_{A,T}
        s_solved, m_solved = 2 * self.ell_solved + 2, (2 * self.ell_solved + 1) * self.n_sub + 1
        out = np.zeros((elements.size, s_solved**d, nl))
        corr = np.zeros((elements.size, m_solved**d, nl)) if want_correctors else None
        if flux is not None:  # a(R_T, λ_i) and R_T of the boundary loads
            flux_out = np.zeros((elements.size, s_solved**d))
            flux_corr = np.zeros((elements.size, m_solved**d)) if want_correctors else None
        padded = pad_field(coefficient, self.n_sub, self.ell_solved).ravel()
        step = self.backend.batch_size
        for start in range(0, elements.size, step):
            chunk = elements[start : start + step]
            windows = padded[self.cell_index[chunk]]  # (chunk, m^2): R_T(A)
            # The problem is scale invariant (Q(cA) = Q(A), S_{cA,T} = c S_{A,T}), the solvers'
            # pivot tolerances are not: solve for A / 2^k with 2^k near the patch's largest value.
            # Powers of two scale exactly, so well-scaled coefficients give the same bits.
            scale = np.exp2(np.round(np.log2(windows.max(axis=1))))
            if getattr(self.backend, "scales_itself", False):  # shares work between patches
                scale = np.ones_like(scale)
            loads = None if flux is None else self._patch_loads(chunk, flux)
            if loads is None:
                local, q = self.backend.solve(
                    self.keys[chunk], windows / scale[:, None], want_correctors
                )
            else:  # the patch matrices are for A / (2^k h^(d-2)): so is the load
                factor = (scale * self.stiffness_scale)[:, None]
                local, q = self.backend.solve(
                    self.keys[chunk], windows / scale[:, None], want_correctors, loads / factor
                )
                # The backend's extra column: −a(R_T, λ_i) and R_T (``PetscBackend.solve``).
                flux_out[start : start + chunk.size] = -local[..., nl] * factor
                local = local[..., :nl]
                if want_correctors:
                    flux_corr[start : start + chunk.size] = q[..., nl]
                    q = q[..., :nl]
            out[start : start + chunk.size] = local * (scale * self.stiffness_scale)[:, None, None]
            if want_correctors:
                corr[start : start + chunk.size] = q
        if mask:
            out = self.masked(out, elements, embedded=False)
        if self.ell_solved < self.ell:
            out = _embed(out, s_solved, self.s, d)
            if want_correctors:
                corr = _embed(corr, m_solved, (2 * self.ell + 1) * self.n_sub + 1, d)
        if flux is None:
            return out, corr
        if self.ell_solved < self.ell:
            flux_out = _embed(flux_out[..., None], s_solved, self.s, d)[..., 0]
            if want_correctors:
                m = (2 * self.ell + 1) * self.n_sub + 1
                flux_corr = _embed(flux_corr[..., None], m_solved, m, d)[..., 0]
        return out, corr, flux_out, flux_corr

    def _patch_loads(self, chunk: np.ndarray, flux) -> np.ndarray | None:
        """The boundary loads (ψ, w)_{∂D_N ∩ ∂T} on the padded patches' fine nodes of the
        elements ``chunk``, ``(k, m^d)``; None where all are 0 (no patch solves a load)."""
        d, n, e = self.dim, self.n_sub, self.ell_solved
        loads = element_flux_loads(self.n_coarse, n, self.neumann, flux, chunk)
        if not loads.any():
            return None
        if isinstance(self.backend, NoFineScale):  # W = {0}: R_T = 0
            return None
        m1 = (2 * e + 1) * n + 1
        positions = np.ravel_multi_index(
            tuple(e * n + np.indices((n + 1,) * d).reshape(d, -1)), (m1,) * d
        )
        out = np.zeros((chunk.size, m1**d))
        out[:, positions] = loads
        return out

    def masked(self, local: np.ndarray, elements, embedded: bool = True) -> np.ndarray:
        """Padded S_{A,T} of ``full_local_matrices`` with the rows and columns of nodes without
        an unknown (outside D, on a Dirichlet face) zeroed: what ``local_matrices`` returns."""
        e = self.ell if embedded else self.ell_solved
        index = self.node_index
        if e != self.ell_solved:
            index = padded_node_indices(self.n_coarse, e, self.dim, self.neumann)
        nodes = index[np.asarray(elements, dtype=np.int64).reshape(-1)]
        out = np.array(local)
        out[nodes < 0, :] = 0.0
        cols = nodes[:, element_node_positions(e, self.dim)]  # (k, 2^d)
        out[np.broadcast_to(cols[:, None, :] < 0, out.shape)] = 0.0
        return out

    def _validate(self, coefficient) -> np.ndarray:
        """The coefficient as float64, checked for this solver's shape and dimension."""
        arr = np.asarray(coefficient)
        if arr.ndim != self.dim and arr.ndim in (2, 3):
            raise ValueError(
                f"coefficient is {arr.ndim}-D, this PatchSolver {self.dim}-D: build "
                f"PatchSolver(..., dim={arr.ndim})"
            )
        return validate_coefficient(arr, self.n_coarse, self.n_sub, dim=self.dim)

    def local_matrices(
        self, coefficient: np.ndarray, elements: np.ndarray | None = None
    ) -> np.ndarray:
        """Padded local PG-LOD matrices S_{A,T}, eq. (3.9), for the given elements (default all).

        Parameters
        ----------
        coefficient : fine ``[iy, ix]`` (``[iz, iy, ix]``) array of shape (n_coarse n_sub,)*d.
        elements : coarse elements ``t = ty * n_coarse + tx`` (C order of the axes).

        Returns
        -------
        Array of shape ``(len(elements), (2ℓ+2)**d, 2**d)``: rows the padded patch nodes, columns
        T's 2^d nodes (``lod_fenicsx.patch``); rows and columns of nodes without an unknown
        (outside D or on a Dirichlet face) are 0.
        """
        return self._solve(coefficient, elements, mask=True)[0]

    def full_local_matrices(
        self, coefficient: np.ndarray, elements: np.ndarray | None = None
    ) -> np.ndarray:
        """As ``local_matrices`` but without zeroing the rows/columns of Dirichlet nodes.

        The columns of boundary nodes use the correctors of the boundary hats; with these the
        global matrix on all nodes has vanishing row and column sums (a check of eq. (3.9)).
        """
        return self._solve(coefficient, elements, mask=False)[0]

    def correctors(self, coefficient: np.ndarray, elements: np.ndarray | None = None) -> np.ndarray:
        """Element correctors Q_T λ_j, eq. (3.5), on the padded patch's fine nodes.

        Returns shape ``(len(elements), ((2ℓ+1) n + 1)**d, 2**d)``, fine nodes in C order of
        the axes, columns T's 2^d hats; zero on the patch boundary and outside D.
        """
        return self._solve(coefficient, elements, mask=False, want_correctors=True)[1]

    def local_matrices_and_correctors(
        self, coefficient: np.ndarray, elements: np.ndarray | None = None, full: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``local_matrices`` (``full_local_matrices`` with ``full``) and ``correctors`` from one
        pass over the patches."""
        return self._solve(coefficient, elements, mask=not full, want_correctors=True)

    def boundary_load_correctors(
        self,
        coefficient: np.ndarray,
        flux: dict,
        elements: np.ndarray | None = None,
        want_correctors: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
        """``full_local_matrices`` (and ``correctors``) with the boundary-load correctors R_T
        of the Neumann data ψ (``flux``, as for ``pglod_solve``), from one pass over the patches.

        For an element T with a face on a Neumann face of D that carries data, R_T is the
        function of the patch's W (the correctors' space: I_H R_T = 0, the same boundary
        conditions) with a(R_T, w) = (ψ, w)_{∂D_N ∩ ∂T} for all w in W; it is one more
        right-hand side of T's patch problem (same factorisation). The load is the fine one of
        ``lod_fenicsx.reference.fine_solve`` cut per element (``boundary.element_flux_loads``).
        R_T = 0 for the other elements, and for n = 1 (W = {0}).

        Returns
        -------
        full, correctors
            As ``full_local_matrices`` and ``correctors`` (None unless ``want_correctors``),
            the same numbers as those give.
        flux_products : numpy.ndarray
            a(R_T, λ_i) for the padded patch's coarse nodes i, shape ``(k, (2ℓ+2)^d)``
            (unmasked, like ``full``).
        flux_correctors : numpy.ndarray or None
            R_T on the padded patch's fine nodes, ``(k, ((2ℓ+1) n + 1)^d)``, with
            ``want_correctors``.
        """
        check_data(self.neumann, None, flux)
        return self._solve(
            coefficient, elements, mask=False, want_correctors=want_correctors, flux=flux or {}
        )


def _embed(values: np.ndarray, side: int, new_side: int, dim: int = 2) -> np.ndarray:
    """Patch arrays ``(k, side^d, 2^d)`` in the middle of a larger padded layout (zeros around)."""
    k, nl = values.shape[0], values.shape[-1]
    out = np.zeros((k,) + (new_side,) * dim + (nl,))
    o = (new_side - side) // 2
    middle = (slice(None),) + (slice(o, o + side),) * dim
    out[middle] = values.reshape((k,) + (side,) * dim + (nl,))
    return out.reshape(k, new_side**dim, nl)


class NoFineScale:
    """The corrector "backend" of n = 1: the fine space is the coarse one, so W = ker I_H = {0}.

    Then Q_T λ_j = 0 and S_{A,T} = (A ∇λ_j, ∇λ_i)_T, the Q1 element stiffness of T (unit cell).
    """

    name = "none (n = 1)"
    batch_size = 4096

    def __init__(self, ell: int, dim: int = 2):
        from lod_fenicsx.q1 import reference_element_matrices

        self.ell, self.dim, self.timings = ell, dim, {}
        self.k_ref = reference_element_matrices(dim)[0]
        self.centre = np.ravel_multi_index((ell,) * dim, (2 * ell + 1,) * dim)  # T in the window

    def solve(self, keys, windows, want_correctors: bool):
        s, m, d = 2 * self.ell + 2, 2 * self.ell + 1, self.dim
        out = np.zeros((len(windows), s**d, 2**d))
        t_nodes = element_node_positions(self.ell, d)
        out[:, t_nodes] = windows[:, self.centre, None, None] * self.k_ref
        return out, (np.zeros((len(windows), (m + 1) ** d, 2**d)) if want_correctors else None)

    def close(self):
        pass


def check_memory(
    backend: str,
    n_sub: int,
    ell: int,
    batch_size: int | None = None,
    device="auto",
    patches: int | None = None,
    dim: int = 2,
) -> None:
    """Refuse a set-up that needs more memory than the machine has (estimate, checked up front).

    The torch backend holds a whole batch at once: ``batch_size`` patches (its default on the
    CPU; a GPU's default is already cut to a quarter of its free memory), at most ``patches``.
    """
    m, s = (2 * ell + 1) * n_sub, 2 * ell + 2
    where, batch_text, advice = "are available", "", "lower ell or n_sub"
    if backend in ("petsc", "condensed"):  # condensed: a fraction of the petsc one's per patch
        # Dense hats and I_H of the patch and their products (measured: ~8 of them), and per
        # patch type (at most (2ℓ+1)^d of them) ~16 bytes per entry of the saddle matrix:
        # K's stencil of 3^d entries per fine node and C's s^d rows of (2n+1)^d. The second term
        # dominates in 3-D (measured on 5^3 coarse cells: 0.9 MiB per type for n = 4, ℓ = 1).
        types = min(patches or (2 * ell + 1) ** dim, (2 * ell + 1) ** dim)
        saddle_entries = 3**dim * (m + 1) ** dim + 2 * s**dim * (2 * n_sub + 1) ** dim
        need = 64 * s**dim * (m + 1) ** dim + 16 * types * saddle_entries
        available = _available_memory()
    else:
        import torch

        from lod_fenicsx.corrector_torch import DEFAULT_BATCH, bytes_per_patch, resolve_device

        device = resolve_device(device)
        on_gpu = device.type == "cuda"
        batch = batch_size or (1 if on_gpu else DEFAULT_BATCH["cpu"])
        batch = min(batch, patches or batch)
        need = bytes_per_patch(n_sub, ell) * batch
        available = torch.cuda.mem_get_info(device)[0] if on_gpu else _available_memory()
        where = f"are free on {device}" if on_gpu else where
        batch_text, advice = f" for {batch} patches at once", "lower the batch size, ell or n_sub"
    if available is not None and need > 0.8 * available:
        raise ValueError(
            f"PatchSolver(n_sub={n_sub}, ell={ell}, dim={dim}, backend={backend!r}) needs about "
            f"{need / 2**30:.1f} GiB{batch_text}, {available / 2**30:.1f} GiB {where}; {advice} "
            "(ell >= n_coarse - 1 already makes every patch the whole domain)"
        )


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def patch_fine_nodes(n_coarse: int, n_sub: int, ell: int, t: int, dim: int = 2) -> np.ndarray:
    """Global fine node (C order, ``iy * (N n + 1) + ix`` in 2-D) of each padded-patch fine node
    of T, -1 outside D."""
    t_index = np.array(np.unravel_index(int(t), (n_coarse,) * dim))
    m, nf = (2 * ell + 1) * n_sub, n_coarse * n_sub
    local = np.indices((m + 1,) * dim).reshape(dim, -1)
    index = (t_index[:, None] - ell) * n_sub + local
    inside = np.all((index >= 0) & (index <= nf), axis=0)
    nodes = np.ravel_multi_index(tuple(np.clip(index, 0, nf)), (nf + 1,) * dim)
    return np.where(inside, nodes, -1)
