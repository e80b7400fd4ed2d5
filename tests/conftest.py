"""Tests never touch the long runs' state: ``$NH_STATE`` points at a fresh folder per session."""

import os
import tempfile

os.environ["NH_STATE"] = tempfile.mkdtemp(prefix="nh-state-")
