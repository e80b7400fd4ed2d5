"""Petrov–Galerkin Localized Orthogonal Decomposition (PG-LOD) on DOLFINx quadrilateral (d = 2)
and hexahedral (d = 3) meshes; d follows from the coefficient array, one code path for both.

Paper: Kröpfl, Maier, Peterseim, *Operator compression with deep neural networks* (2022),
Sec. 3.3–3.4.

One module per mathematical object, in the order the data flows:

* ``q1`` — the Q1 element templates in closed form, structured assembly;
* ``discretization`` — coarse and fine DOLFINx meshes/spaces, structured index maps;
* ``coefficient`` — validation of A_ε and its DG0 function;
* ``boundary`` — Dirichlet or Neumann on each face, boundary data g and ψ;
* ``interpolation`` — the quasi-interpolation I_H and the multilinear prolongation;
* ``patch`` — the padded patch conventions R_T(A) and S_{A,T} (node and cell order);
* ``corrector`` — element correctors Q_T λ_j and local matrices S_{A,T} (``PatchSolver``), with
  the backends ``corrector_petsc`` (sparse LDL^T per patch) and ``corrector_torch`` (batched,
  CPU or GPU, no DOLFINx/PETSc);
* ``assembly`` — global S_A as a PETSc MPIAIJ matrix (``assemble_global``);
* ``loads`` — right-hand sides and the loads (f, λ_i) of the coarse and the fine mesh;
* ``linalg`` — coarse direct solve, CG + AMG, one Dirichlet assemble-and-solve
  (``DirichletSolver``);
* ``pglod`` — the method end to end (``pglod_solve``, ``PGLODResult``, distributed local matrices);
* ``reference`` — the fine Q1 reference solution;
* ``upscaling`` — upscaled permeability of a block by flow experiments, PG-LOD and fine;
* ``metrics`` — L2 and energy errors, ‖S_A − Ŝ_A‖_2.

The error contract of the command line, checkpoints, locks, timing and threads are not PG-LOD:
they live in the package ``plumbing``, shared by all three packages.

Command line: ``python3 -m lod_fenicsx solve --help``.
"""

from plumbing.lazy import lazy_exports

__version__ = "0.1.0"

# The public API, imported on first use: ``import lod_fenicsx`` stays light, and the torch
# corrector backend keeps working where DOLFINx and PETSc are missing.
_API = {
    "PatchSolver": "corrector",
    "pglod_solve": "pglod",
    "PGLODResult": "pglod",
    "distributed_local_matrices": "pglod",
    "corrected_solution": "pglod",
    "assemble_global": "assembly",
    "Discretization": "discretization",
    "validate_coefficient": "coefficient",
    "coarse_load": "loads",
    "fine_load": "loads",
    "RHS": "loads",
    "coarse_solve": "linalg",
    "cg_amg_solver": "linalg",
    "DirichletSolver": "linalg",
    "fine_solve": "reference",
    "upscaled_permeability": "upscaling",
    "fine_upscaled_permeability": "upscaling",
    "padded_patches": "patch",
    "spectral_norm": "metrics",
    "coarse_l2_error": "metrics",
}
__all__, __getattr__ = lazy_exports(__name__, _API)
