"""No input file may run code: every entry point that reads a checkpoint refuses a pickle payload.

The payload is a ``.pt`` whose unpickling would create a file (what ``weights_only=False`` would
do); each entry point must answer with one ``ValueError`` naming the file, and create nothing.
"""

import pathlib
import re

import pytest
import torch

from plumbing.checkpoint import load_checkpoint, rng_state, save_atomic

ROOT = pathlib.Path(__file__).resolve().parent.parent


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.fixture
def evil(tmp_path):
    """A checkpoint-shaped file whose pickle creates ``marker`` when loaded unsafely."""
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "config": _Payload(marker)}, path)
    torch.load(path, weights_only=False)  # the payload is real: unsafe loading runs it
    assert marker.exists()
    marker.unlink()
    return path, marker


def _entry_points():
    from hybrid_pinn.training import Trainer, TrainingConfig
    from nn_compress.training import load_model, read_checkpoint

    def hybrid_resume(path):
        folder = path.parent / "hybrid"
        folder.mkdir(exist_ok=True)
        (folder / "last.pt").write_bytes(path.read_bytes())
        Trainer.resume_or_start(TrainingConfig(eps=1 / 16, checkpoint_dir=str(folder)))

    def exported_folder(path):
        folder = path.parent / "network"
        folder.mkdir(exist_ok=True)
        (folder / "network.json").write_text('{"shards": ["network-00.pt"]}')
        (folder / "network-00.pt").write_bytes(path.read_bytes())
        load_model(folder)

    return {
        "load_checkpoint": load_checkpoint,
        "read_checkpoint": read_checkpoint,
        "load_model (file)": load_model,
        "load_model (exported folder)": exported_folder,
        "Trainer.from_checkpoint": Trainer.from_checkpoint,
        "Trainer.resume_or_start": hybrid_resume,
    }


@pytest.mark.parametrize("name", list(_entry_points()))
def test_a_pickle_payload_is_refused_by_every_loader_and_runs_nothing(evil, name):
    path, marker = evil
    with pytest.raises(ValueError) as info:
        _entry_points()[name](path)
    message = str(info.value)
    assert "\n" not in message and str(path.parent) in message, message
    assert not marker.exists()


def test_the_plain_state_of_a_run_loads_safely(tmp_path):
    state = {"rng": rng_state(), "history": [{"it": 1, "loss": [0.5, float("nan")]}]}
    save_atomic(state, tmp_path / "last.pt")
    back = load_checkpoint(tmp_path / "last.pt")
    assert back["history"][0]["it"] == 1
    assert back["rng"]["numpy"]["pos"] == state["rng"]["numpy"]["pos"]


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "last.pt"
    save_atomic({"a": torch.ones(2)}, path)
    with pytest.raises(Exception):
        save_atomic({"a": lambda: None}, path)  # cannot be pickled: the write fails midway
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    assert load_checkpoint(path)["a"].tolist() == [1.0, 1.0]


def test_no_torch_load_in_the_tree_runs_code():
    unsafe = []
    for path in ROOT.rglob("*.py"):
        if any(part.startswith(".") for part in path.relative_to(ROOT).parts):
            continue
        text = path.read_text()
        for match in re.finditer(r"torch\.load\(", text):
            call = text[match.start() : text.find(")", match.end()) + 1]
            if "weights_only=True" not in call and path.name != "test_checkpoint_safety.py":
                unsafe.append(f"{path.relative_to(ROOT)}: {call}")
    assert unsafe == []
