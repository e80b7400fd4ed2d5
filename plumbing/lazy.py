"""Public names of a package imported on first use (PEP 562), so that importing the package stays
light: the torch corrector backend must keep working where DOLFINx and PETSc are missing."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, api: dict[str, str]):
    """``(__all__, __getattr__)`` for ``package`` whose name ``n`` lives in submodule ``api[n]``."""

    def __getattr__(name):  # noqa: N807  (the module-level hook's name)
        if name in api:
            return getattr(importlib.import_module(f"{package}.{api[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return sorted(api), __getattr__
