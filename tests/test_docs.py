"""The documentation site (issue 35): it builds with no warning, and every figure it shows is a
committed, small PNG written by a committed demo command.

The build is Sphinx with warnings as errors (``./run docs`` does the same into
``docs/_build/html``): a broken reference, a missing figure or included file, a docstring that
does not parse, or a public name without a docstring fails it. No demo is run: the pages show the
committed results under ``demos/results/`` and ``benchmarks/``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers import markdown_tables

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MAX_FIGURE_BYTES = 300 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _demo_table() -> dict:
    with open(DOCS / "demos.toml", "rb") as f:
        return tomllib.load(f)


def _toml_figures() -> list[tuple[str, str, dict]]:
    """(demo, repository-relative file, entry) of every figure ``demos.toml`` lists."""
    out = []
    for demo, entry in _demo_table().items():
        for figure in entry.get("figures", []):
            files = (
                [figure["file"]]
                if "file" in figure
                else sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(figure["glob"]))
            )
            assert files, f"demos.toml [{demo}]: {figure} matches no file"
            out += [(demo, f, figure) for f in files]
    return out


def _page_figures() -> list[tuple[str, str]]:
    """(page, repository-relative file) of every image the hand-written pages show."""
    out = []
    for page in DOCS.rglob("*.md"):
        if {"_build", "api", "demos"} & set(page.relative_to(DOCS).parts[:-1]):
            continue  # generated pages: their figures come from demos.toml
        text = page.read_text()
        refs = re.findall(r"```\{(?:figure|image)\}\s+(\S+)", text)
        refs += re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)
        for ref in refs:
            out.append(
                (str(page.relative_to(ROOT)), str((page.parent / ref).resolve().relative_to(ROOT)))
            )
    return out


def test_site_builds_with_no_warning(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E", "-b", "html"]
        + ["-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert build.returncode == 0, f"the site does not build cleanly:\n{build.stderr[-6000:]}"
    html = tmp_path / "html"
    for page in ("index", "getting-started", "papers/paper000", "papers/paper004", "papers/hybrid"):
        assert (html / f"{page}.html").exists(), page
    for script in (ROOT / "demos").glob("*.py"):
        assert (html / "demos" / f"{script.stem}.html").exists(), f"no page for {script.name}"
    for package in ("lod_fenicsx", "nn_compress", "hybrid_pinn", "plumbing"):
        assert (html / "api" / f"{package}.html").exists()


@pytest.mark.parametrize(
    "figure", sorted({f for _, f in _page_figures()} | {f for _, f, _ in _toml_figures()})
)
def test_figure_is_a_small_committed_png(figure):
    path = ROOT / figure
    assert path.is_file(), f"{figure} is shown on the site but does not exist"
    assert path.read_bytes()[:8] == PNG_MAGIC, f"{figure} is not a PNG"
    assert path.stat().st_size <= MAX_FIGURE_BYTES, f"{figure}: {path.stat().st_size} B > 300 kB"


def test_every_figure_names_the_demo_command_that_wrote_it():
    """Each figure on a page is one of ``demos.toml``'s, whose entry names the command (a
    committed script under demos/) that wrote it, and, where the figure is re-plotted from result
    files, those files exist."""
    listed = {f: (demo, entry) for demo, f, entry in _toml_figures()}
    table = _demo_table()
    for page, figure in _page_figures():
        assert figure in listed, f"{page} shows {figure}, which demos.toml does not list"
    for figure, (demo, entry) in listed.items():
        assert (ROOT / "demos" / f"{demo}.py").is_file(), f"{figure}: no demos/{demo}.py"
        command = entry.get("command", table[demo].get("command", ""))
        assert f"demos/{demo}.py" in command, f"{figure}: the command does not run demos/{demo}.py"
        if "written_as" in entry:  # the name the script gives the file before it is committed
            stem = Path(entry["written_as"]).stem
            assert stem in (ROOT / "demos" / f"{demo}.py").read_text(), f"{figure}: {stem}?"
        for source in entry.get("sources", []):
            assert (ROOT / source).is_file(), f"{figure} is plotted from {source}, which is missing"


def test_every_result_figure_is_shown():
    """Every PNG under demos/results/ (committed there by a demo command) is on some page."""
    shown = {f for _, f in _page_figures()} | {f for _, f, _ in _toml_figures()}
    pngs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "demos" / "results").rglob("*.png"))
    missing = [f for f in pngs if f not in shown]
    assert not missing, f"figures under demos/results/ that no page shows: {missing}"


# The ignored folders a build or a run writes Markdown into (.gitignore).
_NOT_COMMITTED = ("out/", "data/", "results/", "checkpoints/", "demos/output/", "docs/_build/")
_NOT_COMMITTED += ("docs/api/", "docs/demos/", "docs/benchmarks.md")


def test_every_committed_markdown_table_is_well_formed():
    """Results, benchmarks, READMEs and pages alike (|E û − E u| in a header once split one)."""
    assert markdown_tables("| a | b |\n|---|---|\n| max|x| | 1 |\n| `a\\|b` | 2 |") == (1, [3])
    listed = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.md")]
    listed = [f for f in listed if not f.startswith(_NOT_COMMITTED) and "/." not in f"/{f}"]
    bad = {f: rows for f in listed if (rows := markdown_tables((ROOT / f).read_text())[1])}
    assert len(listed) > 50 and not bad, bad


def _public_objects():
    import importlib

    for package in ("lod_fenicsx", "nn_compress", "hybrid_pinn", "plumbing"):
        module = importlib.import_module(package)
        for name in module.__all__:
            yield package, name, getattr(module, name)


@pytest.mark.parametrize(
    "package, name, obj",
    [p for p in _public_objects() if ">>>" in (getattr(p[2], "__doc__", None) or "")],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_docstring_examples_run(package, name, obj, monkeypatch):
    """The Examples block of a public name's docstring runs and prints what it shows (from the
    repository root, where the examples' paths, such as networks/, are)."""
    import doctest
    import importlib

    monkeypatch.chdir(ROOT)
    globs = dict(vars(importlib.import_module(package)))
    globs.update({n: getattr(importlib.import_module(package), n) for n in globs["__all__"]})
    finder, runner = doctest.DocTestFinder(recurse=False), doctest.DocTestRunner()
    for test in finder.find(obj, name, globs=globs):
        runner.run(test)
    assert runner.failures == 0, f"{package}.{name}: {runner.failures} example(s) failed"
