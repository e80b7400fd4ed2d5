"""Every other kind of file a command reads, against every kind of bad input (issue 34, item 1):
datasets (demos/generate.py's HDF5), coefficient files (.npy, HDF5) and result files (JSON, JSON
Lines, CSV) answer an empty, truncated, random, text, foreign or missing file, a file in another
encoding, a folder and a link loop, and the damages of their own kind (a group where a dataset
should be, a pickle in a .npy file, a card in Latin-1), with one ValueError on one line that
names the file: never a traceback from inside h5py, NumPy, json or csv, and never code run from
a file. The checkpoint reader's fuzz is ``test_reader_fuzz.py``; a command given such a file
exits with status 2 and one ``<prog>: error:`` line (the CLI tests at the end)."""

import json
import pathlib
import pickle
import uuid
import warnings

import h5py
import numpy as np
import pytest
import torch

from helpers import load_demo, solve_argv
from plumbing.cli import run
from nn_compress.dataset import (
    GenerationConfig,
    SerialComm,
    check_split,
    dataset_identity,
    generate,
    generation_progress,
    read_info,
    read_split,
)
from lod_fenicsx.__main__ import read_coefficient

TINY = GenerationConfig(2, 2, 1, {"A1": 10})


def _sample(family, index, seed, n_fine):
    return np.ones((n_fine, n_fine)), np.ones((n_fine, n_fine))


def _local(config):
    side = 2 * config.ell + 2
    return lambda a: np.ones((config.n_elements, side**2, 4))


def _generate(path, config=TINY, **kw):
    return generate(
        SerialComm(),
        config,
        path,
        sample_fn=_sample,
        local_matrices_fn=_local(config),
        progress=False,
        **kw,
    )


# -- bad inputs of every kind ----------------------------------------------------------------------
CUTS = (1, 8, 64, 512, "half", "end-1")


def _common(folder: pathlib.Path, good: bytes, suffix: str) -> dict:
    """name -> a path (in ``folder``, with ``suffix``) that is not a good file of its kind."""
    made = {}

    def file(name, content: bytes):
        path = folder / f"{name}{suffix}"
        path.write_bytes(content)
        made[name] = path

    file("empty", b"")
    for cut in CUTS:
        at = {"half": len(good) // 2, "end-1": len(good) - 1}.get(cut, cut)
        file(f"truncated-{cut}", good[:at])
    for seed in range(3):
        file(f"random-{seed}", np.random.default_rng(seed).bytes(2000))
    file("csv", b"epoch,loss\n1,0.5\n2,0.25\n")
    file("utf16", "epoch,Verlust\n1,0,5\n".encode("utf-16"))
    file("latin1", "époque;perte\n".encode("latin-1"))
    file("pickle", pickle.dumps({"model": 1}))
    torch.save({"model": {}, "epoch": 0}, folder / f"checkpoint{suffix}")
    made["checkpoint"] = folder / f"checkpoint{suffix}"
    np.save(folder / "array.npy", np.ones((4, 4, 4, 4)))
    made["npy"] = (folder / "array.npy").rename(folder / f"npy{suffix}")
    file("card", json.dumps({"layer_sizes": [1, 2], "shards": ["x.pt"]}).encode())
    with h5py.File(folder / f"foreign-hdf5{suffix}", "w") as f:
        f["x"], f["y"] = np.ones((8, 8)), np.ones((2, 3))
    made["foreign-hdf5"] = folder / f"foreign-hdf5{suffix}"
    (folder / f"folder{suffix}").mkdir()
    made["folder"] = folder / f"folder{suffix}"
    (folder / f"loop{suffix}").symlink_to(f"loop{suffix}")
    made["loop"] = folder / f"loop{suffix}"
    made["missing"] = folder / f"missing{suffix}"
    return made


COMMON = (
    ["empty"]
    + [f"truncated-{cut}" for cut in CUTS]
    + [f"random-{seed}" for seed in range(3)]
    + ["csv", "utf16", "latin1", "pickle", "checkpoint", "npy", "card", "foreign-hdf5"]
    + ["folder", "loop", "missing"]
)


def _refusal(read, path, named=None) -> str:
    """``read(path)``'s one-line ValueError naming ``named`` (default ``path``); any other
    exception, or a warning a command would print beside its error line, fails the test."""
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ValueError) as info:
        warnings.simplefilter("always")
        read(path)
    assert [str(w.message) for w in caught] == []
    assert type(info.value).__name__ in ("ValueError", "CollectiveError"), repr(info.value)
    message = str(info.value)
    assert "\n" not in message and str(named or path) in message, message
    return message


# -- datasets --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("dataset") / "good.h5"
    _generate(path)
    return path


DATASET_READERS = {
    "read_info": read_info,
    "read_split": lambda p: read_split(p, "train"),
    "check_split": lambda p: check_split(p, "train"),
    "generation_progress": generation_progress,
    "dataset_identity": dataset_identity,
    "resume": _generate,  # generate's resume: the existing file opened with "r+"
    "reuse": lambda p: _generate(p.parent / f"new-{uuid.uuid4().hex}.h5", reuse=[p]),
}


def _spoil(good, folder, name, change) -> pathlib.Path:
    path = folder / f"{name}.h5"
    path.write_bytes(good.read_bytes())
    with h5py.File(path, "r+") as f:
        change(f)
    return path


def _replace(name, value):
    def change(f):
        del f[name]
        f[name] = value

    return change


def _attribute(name, value):
    def change(f):
        if value is None:
            del f.attrs[name]
        else:
            f.attrs[name] = value

    return change


def _group(name):
    def change(f):
        del f[name]
        f.create_group(name)

    return change


def _config_with(**changes):
    """The config attribute with these keys changed (None: removed)."""

    def change(f):
        config = json.loads(f.attrs["config"])
        config.update(changes)
        config = {key: value for key, value in config.items() if value is not None}
        f.attrs["config"] = json.dumps(config)

    return change


#: damages of a dataset file of ours: name -> change of the open file
DATASET_DAMAGES = {
    "fields a group": _group("fields"),
    "local_matrices a group": _group("local_matrices"),
    "done a group": _group("done"),
    "split a group": _group("split"),
    "done a link loop": _replace("done", h5py.SoftLink("/done")),
    "fields a lost external link": _replace("fields", h5py.ExternalLink("gone.h5", "/fields")),
    "done missing": lambda f: f.__delitem__("done"),
    "fields of another shape": _replace("fields", np.ones((2, 2))),
    "local_matrices of another shape": _replace("local_matrices", np.ones((10, 4, 3))),
    "done strings": _replace("done", np.array([b"yes"] * 10)),
    "config not JSON": _attribute("config", "{"),
    "config a list": _attribute("config", "[1, 2]"),
    "config numbers": _attribute("config", np.arange(3)),
    "config unknown key": _config_with(colour="red"),
    "config without split": _config_with(split=None),
    "config dim 5": _config_with(dim=5),
    "config families a list": _config_with(families=["A1"]),
    "no config": _attribute("config", None),
    "families missing": _attribute("families", None),
    "families not JSON": _attribute("families", "[A1"),
    "families of another file": _attribute("families", json.dumps(["A2"])),
}


@pytest.fixture(scope="module")
def bad_datasets(good_dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-datasets")
    made = _common(folder, good_dataset.read_bytes(), ".h5")
    for name, change in DATASET_DAMAGES.items():
        made[name] = _spoil(good_dataset, folder, name.replace(" ", "-"), change)
    return made


@pytest.mark.parametrize("reader", list(DATASET_READERS))
@pytest.mark.parametrize("name", COMMON + list(DATASET_DAMAGES))
def test_a_bad_dataset_file_gives_one_line_naming_it(bad_datasets, reader, name):
    if reader == "resume" and name == "missing":
        pytest.skip("a missing output is made, not read")
    path = bad_datasets[name]
    copy = path.parent / f"{reader}-{path.name}"  # resume opens for writing: its own copy
    if path.is_file() and not path.is_symlink():
        copy.write_bytes(path.read_bytes())
        path = copy
    message = _refusal(DATASET_READERS[reader], path)
    if name in ("fields a group", "local_matrices a group", "done a group", "split a group"):
        assert "is a group, not a dataset" in message, message
    if name == "truncated-half":  # HDF5 says "sblock->base_addr": not a lock
        assert "truncated" in message and "locked" not in message, message


@pytest.mark.parametrize("reader", list(DATASET_READERS))
def test_text_of_every_leading_byte_is_not_a_dataset(tmp_path, reader):
    for byte in range(256):
        path = tmp_path / f"text-{byte:02x}.h5"
        path.write_bytes(bytes([byte]) + b"poch,loss\n1,0.5\n")
        _refusal(DATASET_READERS[reader], path)


@pytest.mark.parametrize("reader", list(DATASET_READERS))
def test_a_dataset_scribbled_over_reads_or_gives_one_line(good_dataset, tmp_path, reader):
    """Random bytes written over the file's metadata: HDF5 may notice or not; never a
    traceback."""
    data = bytearray(good_dataset.read_bytes())
    for seed, at in enumerate((0, 48, 96, 200, 400, 800, 1200, 2000, 3000)):
        spoiled = data.copy()
        spoiled[at : at + 64] = np.random.default_rng(seed).bytes(64)
        path = tmp_path / f"scribbled-{at}.h5"
        path.write_bytes(bytes(spoiled))
        try:
            DATASET_READERS[reader](path)
        except ValueError as e:
            assert "\n" not in str(e) and str(path) in str(e), str(e)


def test_a_dataset_of_another_configuration_is_named_with_the_differences(good_dataset, tmp_path):
    other = GenerationConfig(2, 2, 1, {"A1": 12})
    path = tmp_path / "d.h5"
    path.write_bytes(good_dataset.read_bytes())
    message = _refusal(lambda p: _generate(p, other), path)
    assert "another configuration" in message and "families.A1 (file: 10, requested: 12)" in message
    lender = tmp_path / "lender.h5"
    _generate(lender, GenerationConfig(2, 2, 0, {"A1": 10}))
    message = _refusal(lambda p: _generate(tmp_path / "new.h5", reuse=[p]), lender)
    assert "cannot lend samples" in message and "ell (file: 0, requested: 1)" in message
    assert not (tmp_path / "new.h5").exists()
    with pytest.raises(ValueError, match="holds 2-D data"):
        read_info(good_dataset, dim=3)


def test_an_attribute_in_latin1_is_named(good_dataset, tmp_path):
    latin1 = _attribute("preset", np.bytes_("café".encode("latin-1")))
    path = _spoil(good_dataset, tmp_path, "latin1", latin1)
    for read in (read_info, dataset_identity):
        _refusal(read, path)


# -- coefficient files -----------------------------------------------------------------------------
def _coefficient_bytes(folder) -> bytes:
    np.save(folder / "good.npy", np.random.default_rng(0).uniform(1, 5, (8, 8)))
    return (folder / "good.npy").read_bytes()


class _RunsCode:
    """An object whose unpickling creates a file: the proof that a reader ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _npy(folder, name, array, **kw) -> pathlib.Path:
    np.save(folder / f"{name}.npy", array, **kw)
    return folder / f"{name}.npy"


def _h5(folder, name, fill) -> pathlib.Path:
    with h5py.File(folder / f"{name}.h5", "w") as f:
        fill(f)
    return folder / f"{name}.h5"


def _h5_coefficient(folder, name, value) -> pathlib.Path:
    return _h5(folder, name, lambda f: f.__setitem__("coefficient", value))


def _npy_header(folder, name, shape) -> pathlib.Path:
    import io

    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    (folder / f"{name}.npy").write_bytes(buffer.getvalue() + bytes(64))
    return folder / f"{name}.npy"


COEFFICIENT_DAMAGES = {
    "npy of objects": lambda d: _npy(
        d, "objects", np.array([_RunsCode(d / "ran")]), allow_pickle=True
    ),
    "npy complex": lambda d: _npy(d, "complex", np.ones((8, 8), dtype=complex)),
    "npy bool": lambda d: _npy(d, "bool", np.ones((8, 8), dtype=bool)),
    "npy strings": lambda d: _npy(d, "strings", np.full((8, 8), "1.0")),
    "npy records": lambda d: _npy(d, "records", np.zeros((8, 8), dtype=[("a", "<f8")])),
    "npy 1-D": lambda d: _npy(d, "1d", np.ones(64)),
    "npy 4-D": lambda d: _npy(d, "4d", np.ones((2, 2, 2, 2))),
    "npy scalar": lambda d: _npy(d, "scalar", np.float64(2.0)),
    "npy header of terabytes": lambda d: _npy_header(d, "huge", (10**7, 10**6)),
    "npy header not Python": lambda d: _npy_header(d, "weird", "(9**9,)"),
    "npz archive": lambda d: (
        np.savez(d / "archive.npz", a=np.ones((8, 8))),
        (d / "archive.npz").rename(d / "archive.npy"),
    )[1],
    "h5 coefficient a group": lambda d: _h5(d, "group", lambda f: f.create_group("coefficient")),
    "h5 only groups": lambda d: _h5(d, "groups", lambda f: f.create_group("a/b")),
    "h5 coefficient a link loop": lambda d: _h5(
        d, "loop", lambda f: f.__setitem__("coefficient", h5py.SoftLink("/coefficient"))
    ),
    "h5 two datasets": lambda d: _h5(
        d, "two", lambda f: (f.__setitem__("a", np.ones((8, 8))), f.__setitem__("b", np.ones(3)))
    ),
    "h5 complex": lambda d: _h5_coefficient(d, "hcomplex", np.ones((8, 8), complex)),
    "h5 strings": lambda d: _h5_coefficient(d, "hstrings", ["a", "b"]),
    "h5 scalar": lambda d: _h5_coefficient(d, "hscalar", 2.0),
    "h5 1-D": lambda d: _h5_coefficient(d, "h1d", np.ones(64)),
}


@pytest.fixture(scope="module")
def bad_coefficients(tmp_path_factory):
    made = {}
    for suffix in (".npy", ".h5"):
        folder = tmp_path_factory.mktemp(f"bad-coefficients{suffix}")
        good = _coefficient_bytes(folder)
        made.update({(name, suffix): path for name, path in _common(folder, good, suffix).items()})
    folder = tmp_path_factory.mktemp("coefficient-damages")
    for name, make in COEFFICIENT_DAMAGES.items():
        made[(name, "")] = make(folder)
    return made


COEFFICIENT_READERS = {
    "read_coefficient": read_coefficient,
    "read_coefficient --dataset coefficient": lambda p: read_coefficient(p, "coefficient"),
}


@pytest.mark.parametrize("reader", list(COEFFICIENT_READERS))
@pytest.mark.parametrize(
    "name, suffix",
    [(name, suffix) for name in COMMON for suffix in (".npy", ".h5")]
    + [(name, "") for name in COEFFICIENT_DAMAGES],
)
def test_a_bad_coefficient_file_gives_one_line_naming_it(bad_coefficients, reader, name, suffix):
    path = bad_coefficients[(name, suffix)]
    message = _refusal(COEFFICIENT_READERS[reader], path)
    assert not (path.parent / "ran").exists(), "reading the file ran code from it"
    if name == "npy of objects":
        assert "object" in message, message
    if name == "h5 coefficient a group" and "--dataset" in reader:
        assert "is a group, not a dataset" in message, message


@pytest.mark.parametrize("suffix", [".npy", ".h5"])
def test_text_of_every_leading_byte_is_not_a_coefficient(tmp_path, suffix):
    for byte in range(256):
        path = tmp_path / f"text-{byte:02x}{suffix}"
        path.write_bytes(bytes([byte]) + b"poch,loss\n1,0.5\n")
        _refusal(read_coefficient, path)


def test_an_h5_coefficient_named_by_dataset_that_is_a_group(tmp_path):
    path = _h5(
        tmp_path,
        "c",
        lambda f: (f.create_group("fields"), f.__setitem__("a", np.ones((8, 8)))),
    )
    assert "is a group, not a dataset" in _refusal(lambda p: read_coefficient(p, "fields"), path)
    assert "no dataset 'gone'" in _refusal(lambda p: read_coefficient(p, "gone"), path)
    assert read_coefficient(path).shape == (8, 8)  # the one dataset there


# -- result files ----------------------------------------------------------------------------------
def _paper000():
    return load_demo("paper000_experiments")


def _linked(path, name):
    """A new folder whose file ``name`` is a link to ``path`` (the bad file, whatever its kind)."""
    folder = path.parent / f"run-{uuid.uuid4().hex}"
    folder.mkdir()
    (folder / name).symlink_to(path)
    return folder


def _naming(link, path, read):
    """``read()``, whose ValueError names ``link``: the same error naming ``path``, the file the
    link leads to, for ``_refusal`` to check (any other exception type passes unchanged)."""
    try:
        return read()
    except ValueError as e:  # CollectiveError too (ensure_trained: alike on every rank)
        raise type(e)(str(e).replace(str(link), str(path))) from None


def _card_losses(path):
    """network_losses of an exported folder whose network.json is ``path``."""
    folder = _linked(path, "network.json")
    return _naming(folder / "network.json", path, lambda: _paper000().network_losses(folder))


def _test_losses(path):
    """network_losses of a checkpoint whose test_loss.json beside it is ``path``."""
    folder = _linked(path, "test_loss.json")
    read = lambda: _paper000().network_losses(folder / "last.pt")  # noqa: E731
    return _naming(folder / "test_loss.json", path, read)


def _trained(path):
    """nn_compress.pipeline.ensure_trained with ``path`` as the finished run's test_loss.json."""
    from nn_compress.pipeline import ensure_trained
    from nn_compress.training import TrainConfig

    folder = _linked(path, "test_loss.json")
    cfg = TrainConfig(dataset=str(path.parent / "none.h5"), checkpoint_dir=str(folder))
    read = lambda: ensure_trained(SerialComm(), cfg, log=lambda *a: None)  # noqa: E731
    return _naming(folder / "test_loss.json", path, read)


def _error_history(path):
    from hybrid_pinn.runs import read_error_history

    return read_error_history(path)


def _read_json(path):
    from plumbing.readers import read_json

    return read_json(path, "results table")


def _read_jsonl(path):
    from plumbing.readers import read_jsonl

    return read_jsonl(path, "sample log")


RESULT_READERS = {
    "network card (paper000 network_losses)": _card_losses,
    "test_loss.json (paper000 network_losses)": _test_losses,
    "test_loss.json (pipeline ensure_trained)": _trained,
    "error history CSV (hybrid_pinn.runs)": _error_history,
    "read_json": _read_json,
    "read_jsonl": _read_jsonl,
}
RESULT_DAMAGES = {
    "json nested too deep": b"[" * 100_000,
    "json a list": b"[1, 2]",
    "json a string": b'"table"',
    "json with a BOM": b'\xef\xbb\xbf{"a": 1}',
    "json in Latin-1": '{"losses": {"test_loss": 0.1, "note": "é"}}'.encode("latin-1"),
    "json in UTF-16": json.dumps({"losses": {}}).encode("utf-16"),
    "json truncated": b'{"losses": {"test_',
    "json lines of lists": b'{"a": 1}\n[1]\n',
    "csv header only": b"iteration,wall_time,rel_l2_s0\n",
    "csv words": b"iteration,wall_time,rel_l2_s0\n1,2,three\n",
    "csv ragged": b"iteration,wall_time,rel_l2_s0\n1,2\n3,4,5\n",
    "csv without seeds": b"iteration,wall_time\n1,2\n",
}


@pytest.fixture(scope="module")
def bad_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-results")
    good = json.dumps({"losses": {"test_loss": 0.1}, "shards": [], "note": "x" * 600}).encode()
    made = _common(folder, good, ".json")
    for name, content in RESULT_DAMAGES.items():
        made[name] = folder / f"{name.replace(' ', '-')}.txt"
        made[name].write_bytes(content)
    return made


@pytest.mark.parametrize("reader", list(RESULT_READERS))
@pytest.mark.parametrize("name", COMMON + list(RESULT_DAMAGES))
def test_a_bad_result_file_gives_one_line_naming_it(bad_results, reader, name):
    if name == "card" and "CSV" not in reader:
        pytest.skip("a JSON object: a good card, table, test loss or line of JSON Lines")
    if name == "empty" and reader == "read_jsonl":
        pytest.skip("no line: a log of no records")
    _refusal(RESULT_READERS[reader], bad_results[name])


@pytest.mark.parametrize("reader", list(RESULT_READERS))
def test_text_of_every_leading_byte_is_not_a_result_file(tmp_path, reader):
    for byte in range(256):
        path = tmp_path / f"text-{byte:02x}.json"
        path.write_bytes(bytes([byte]) + b"poch,loss\n1,0.5\n")
        _refusal(RESULT_READERS[reader], path)


def test_an_exported_card_in_another_encoding_names_the_file(tmp_path):
    """The audit's case: a card in UTF-16 or Latin-1 gave a decode error that named no file."""
    from nn_compress.training import load_model

    for encoding in ("utf-16", "latin-1"):
        folder = tmp_path / encoding
        folder.mkdir()
        (folder / "network.json").write_bytes('{"losses": {"note": "é"}}'.encode(encoding))
        for read in (_paper000().network_losses, load_model):
            message = _refusal(read, folder, named=folder / "network.json")
            assert "network.json" in message, message


# -- the commands: exit status 2, one line, no traceback ------------------------------------------
def _one_line(capsys, code, prog, *fragments) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"{prog}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_train_given_a_dataset_with_a_group_for_its_fields(good_dataset, tmp_path, capsys):
    path = _spoil(good_dataset, tmp_path, "grouped", _group("local_matrices"))
    argv = ["--dataset", str(path), "--checkpoint-dir", str(tmp_path / "c"), "--epochs", "1"]
    code = run("train", load_demo("train").main, argv)
    _one_line(capsys, code, "train", str(path), "is a group, not a dataset")
    assert not (tmp_path / "c" / "last.pt").exists()


def test_generate_given_a_damaged_output_to_resume(tmp_path, capsys):
    import dataclasses

    from nn_compress.dataset import presets

    small = presets()["small"]
    config = dataclasses.replace(small, families={name: 1 for name in small.families})
    good = tmp_path / "good.h5"
    _generate(good, config)
    path = _spoil(good, tmp_path, "loop", _replace("done", h5py.SoftLink("/done")))
    argv = ["--preset", "small", "--samples-per-family", "1", "--backend", "torch"]
    argv += ["--device", "cpu", "--out", str(path)]
    code = run("generate", load_demo("generate").main, argv)
    _one_line(capsys, code, "generate", str(path))


def test_solve_given_a_pickled_npy_runs_none_of_it(tmp_path, capsys):
    from lod_fenicsx.__main__ import main

    path = _npy(tmp_path, "a", np.array([_RunsCode(tmp_path / "ran")]), allow_pickle=True)
    code = main(solve_argv(path, tmp_path / "r.h5", "--no-fine"))
    _one_line(capsys, code, "python3 -m lod_fenicsx", str(path), "object")
    assert not (tmp_path / "ran").exists() and not (tmp_path / "r.h5").exists()


def test_solve_given_an_h5_whose_dataset_is_a_group(tmp_path, capsys):
    from lod_fenicsx.__main__ import main

    path = _h5(tmp_path, "c", lambda f: f.create_group("coefficient"))
    code = main(solve_argv(path, tmp_path / "r.h5", "--no-fine", "--dataset", "coefficient"))
    _one_line(capsys, code, "python3 -m lod_fenicsx", str(path), "is a group, not a dataset")


def test_paper004_given_a_table_in_utf16_to_resume(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NH_STATE", str(tmp_path))
    out = tmp_path / "res"
    out.mkdir()
    (out / "table.json").write_bytes(json.dumps({"exp1-small": {}}).encode("utf-16"))
    root = pathlib.Path(__file__).resolve().parents[1]
    argv = ["--base-network", str(root / "networks" / "paper000-plain"), "--experiments", "1"]
    argv += ["--out", str(out)]
    code = run("paper004_experiments", load_demo("paper004_experiments").main, argv)
    _one_line(capsys, code, "paper004_experiments", str(out / "table.json"))
    assert not (tmp_path / "data").exists()


def test_structure_comparison_given_a_table_that_is_a_list(tmp_path, capsys):
    for label in ("plain", "structured"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "table.json").write_text("[1, 2]")
    argv = ["--plain", str(tmp_path / "plain"), "--structured", str(tmp_path / "structured")]
    argv += ["--out", str(tmp_path / "out")]
    code = run("nnlod_structure_comparison", load_demo("nnlod_structure_comparison").main, argv)
    _one_line(capsys, code, "nnlod_structure_comparison", str(tmp_path / "plain" / "table.json"))


@pytest.mark.parametrize(
    "content",
    [
        b'{"family": "lognormal-low"}\n',
        b"\xff\xfe{}\n",
        b'{"family": "x", "dim": 2, "index": 0}\n[]',
    ],
)
def test_upscaled_permeability_given_a_bad_sample_log(tmp_path, capsys, content):
    (tmp_path / "samples.jsonl").write_bytes(content)
    argv = ["--samples", "1", "--samples-3d", "0", "--out", str(tmp_path)]
    code = run("demos/upscaled_permeability.py", load_demo("upscaled_permeability").main, argv)
    _one_line(capsys, code, "demos/upscaled_permeability.py", str(tmp_path / "samples.jsonl"))


def test_read_info_keeps_the_order_of_the_families(tmp_path):
    """The config attribute's JSON has its keys sorted; the gids follow the families' order,
    which the families attribute keeps (a lender of ``--reuse`` is read through it)."""
    config = GenerationConfig(2, 2, 1, {"lognormal-low": 5, "A1": 3})
    _generate(tmp_path / "d.h5", config)
    assert list(read_info(tmp_path / "d.h5").config.families) == ["lognormal-low", "A1"]
