"""The checkpoint reader against every kind of bad input (issue 34, item 1): ``load_checkpoint``,
``read_checkpoint`` and ``load_model`` (a ``.pt`` file or an exported network folder) answer an
empty, truncated, random, text, foreign or missing file, a folder and a link loop with one
ValueError on one line that names the file and what was expected: never a traceback from inside
torch, json or pickle (that no input runs code is ``test_checkpoint_safety.py``)."""

import json
import pickle
import warnings

import h5py
import numpy as np
import pytest
import torch

from plumbing.checkpoint import load_checkpoint, save_atomic
from plumbing.cli import run
from nn_compress.network import CompressionNetwork, layer_sizes
from nn_compress.training import export_network, load_model, read_checkpoint

READERS = {
    "load_checkpoint": load_checkpoint,
    "read_checkpoint": read_checkpoint,
    "load_model": load_model,
}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A checkpoint as training writes it (its entries that load_model reads), and its bytes."""
    path = tmp_path_factory.mktemp("good") / "last.pt"
    sizes = layer_sizes(2, 1)
    save_atomic(
        {
            "model": CompressionNetwork(sizes).state_dict(),
            "layer_sizes": sizes,
            "generation_config": {},
            "config": {},
            "epoch": 0,
            "history": {},
        },
        path,
    )
    return path


def _inputs(good, folder):
    """name -> a path that is not a checkpoint (made on first use)."""
    data = good.read_bytes()
    made = {}

    def file(name, content):
        path = folder / name
        path.write_bytes(content)
        made[name] = path

    file("empty.pt", b"")
    for cut in (1, 4, 30, 64, 512, len(data) // 2, len(data) - 22, len(data) - 1):
        file(f"truncated-{cut}.pt", data[:cut])
    for seed in range(3):
        file(f"random-{seed}.pt", np.random.default_rng(seed).bytes(2000))
    file("table.csv", b"epoch,loss\n1,0.5\n2,0.25\n")
    file("utf16.pt", "epoch,Verlust\n1,0,5\n".encode("utf-16"))
    file("latin1.pt", "époque;perte\n".encode("latin-1"))
    file("plain-pickle.pt", pickle.dumps({"model": 1}))
    file("network.json", json.dumps({"layer_sizes": [1, 2], "shards": ["x.pt"]}).encode())
    with h5py.File(folder / "dataset.h5", "w") as f:
        f["fields"] = np.zeros((2, 3))
    made["dataset.h5"] = folder / "dataset.h5"
    torch.save([1, 2, 3], folder / "list.pt")
    made["list.pt"] = folder / "list.pt"
    torch.save(torch.zeros(3), folder / "tensor.pt")
    made["tensor.pt"] = folder / "tensor.pt"
    (folder / "folder.pt").mkdir()
    made["folder.pt"] = folder / "folder.pt"
    (folder / "loop.pt").symlink_to("loop.pt")
    made["loop.pt"] = folder / "loop.pt"
    made["missing.pt"] = folder / "missing.pt"
    return made


NAMES = (
    ["empty.pt"]
    + [f"truncated-{i}" for i in range(8)]
    + [f"random-{seed}.pt" for seed in range(3)]
    + ["table.csv", "utf16.pt", "latin1.pt", "plain-pickle.pt", "network.json", "dataset.h5"]
    + ["list.pt", "tensor.pt", "folder.pt", "loop.pt", "missing.pt"]
)


def _refusal(reader, path) -> str:
    """The reader's one-line ValueError for ``path`` (any other exception, or a warning that a
    command would print beside its error line, fails the test)."""
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ValueError) as info:
        warnings.simplefilter("always")
        READERS[reader](path)
    assert [str(w.message) for w in caught] == []
    assert type(info.value) is ValueError, repr(info.value)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    assert "checkpoint" in message or "network" in message, message
    return message


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("name", NAMES)
def test_a_bad_checkpoint_file_gives_one_line_naming_it(good, tmp_path, reader, name):
    made = _inputs(good, tmp_path)
    if name.startswith("truncated-"):
        name = sorted((n for n in made if n.startswith("truncated-")), key=lambda n: int(n[10:-3]))[
            int(name[10:])
        ]
    message = _refusal(reader, made[name])
    says = {"loop.pt": "is a link that leads nowhere", "missing.pt": "does not exist"}
    if reader != "load_model":  # for load_model, a folder is an exported network
        says["folder.pt"] = "is a folder; expected a .pt file"
    assert says.get(name, "") in message, message


@pytest.mark.parametrize("reader", list(READERS))
def test_text_of_every_leading_byte_gives_one_line(tmp_path, reader):
    for byte in range(256):
        path = tmp_path / f"text-{byte:02x}.pt"
        path.write_bytes(bytes([byte]) + b"poch,loss\n1,0.5\n")
        _refusal(reader, path)


@pytest.fixture
def exported(good, tmp_path):
    folder = tmp_path / "net"
    export_network(good, folder)
    return folder


def _card(folder, text: bytes):
    (folder / "network.json").write_bytes(text)


CARDS = {
    "random card": lambda f: _card(f, np.random.default_rng(0).bytes(300)),
    "empty card": lambda f: _card(f, b""),
    "latin-1 card": lambda f: _card(f, '{"layer_sizes": "é"}'.encode("latin-1")),
    "list card": lambda f: _card(f, b"[1, 2]"),
    "shards not a list": lambda f: _card(f, b'{"shards": 5, "layer_sizes": [36, 72]}'),
    "shard missing": lambda f: (f / "network-00.pt").unlink(),
    "shard random": lambda f: (f / "network-00.pt").write_bytes(b"\x00" * 100),
    "sizes not numbers": lambda f: _card(
        f,
        json.dumps({**json.loads((f / "network.json").read_text()), "layer_sizes": ["a"]}).encode(),
    ),
    "card a folder": lambda f: ((f / "network.json").unlink(), (f / "network.json").mkdir()),
    "no card": lambda f: (f / "network.json").unlink(),
}


@pytest.mark.parametrize("damage", list(CARDS))
def test_a_bad_network_folder_gives_one_line_naming_it(exported, damage):
    CARDS[damage](exported)
    with pytest.raises(ValueError) as info:
        load_model(exported)
    assert type(info.value) is ValueError, repr(info.value)
    message = str(info.value)
    assert "\n" not in message and str(exported) in message and "network" in message, message


def test_a_command_given_a_foreign_file_says_one_line(tmp_path, capsys):
    path = tmp_path / "table.csv"
    path.write_text("epoch,loss\n1,0.5\n")
    assert run("export", lambda argv: export_network(path, tmp_path / "out"), []) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("export: error: ") and str(path) in err
    assert not (tmp_path / "out").exists()
