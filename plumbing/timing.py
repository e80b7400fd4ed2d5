"""Wall-clock phases that also show up as PETSc log events (``-log_view``).

``with phase(timings, "assembly"): ...`` adds the seconds the block took to
``timings["assembly"]`` and, when PETSc is in use, brackets the block with the log event
``numhom:assembly`` (or ``numhom:<event>``), so that ``-log_view`` or
``PETSc.Log.Event(name).getPerfInfo()`` list the same phases.

PETSc is used only when ``petsc4py.PETSc`` has already been imported by someone else: this
module never imports it. Importing it would initialise PETSc and MPI, collectively, which must
not happen as a side effect of timing a block (on one rank alone it would hang, see
``nn_compress.dataset.generate``), and the torch-only code (``corrector_torch``, training)
must run where petsc4py is missing.
"""

from __future__ import annotations

import sys
from time import perf_counter

_events: dict[str, object] = {}  # event name -> PETSc.Log.Event, registered once


def _event(name: str):
    """The PETSc log event ``name``, or None while PETSc is not loaded."""
    event = _events.get(name)
    if event is None:
        petsc = sys.modules.get("petsc4py.PETSc")
        if petsc is None:
            return None
        event = _events[name] = petsc.Log.Event(name)
    return event


class phase:
    """Context manager: add the wall time of the block to ``timings[name]`` (seconds).

    ``event`` names the PETSc log event ``numhom:<event>`` when it should differ from ``name``
    (timing keys such as ``"assembly"`` are used by several dictionaries). The time is added
    and the event ended also when the block raises.
    """

    __slots__ = ("timings", "name", "event", "_petsc_event", "_t0")

    def __init__(self, timings: dict, name: str, event: str | None = None):
        self.timings, self.name = timings, name
        self.event = f"numhom:{event or name}"

    def __enter__(self):
        self._petsc_event = event = _event(self.event)
        if event is not None:
            event.begin()
        self._t0 = perf_counter()
        return self

    def __exit__(self, *exc):
        seconds = perf_counter() - self._t0
        if self._petsc_event is not None:
            self._petsc_event.end()
        self.timings[self.name] = self.timings.get(self.name, 0.0) + seconds
        return False
