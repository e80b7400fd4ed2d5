"""Generated pages of the numhom site: the API reference and one page per demo.

At ``builder-inited`` (before Sphinx reads the sources) this writes

* ``api/<package>.rst`` for ``lod_fenicsx``, ``nn_compress``, ``hybrid_pinn`` and
  ``plumbing``: the package docstring, then every name of its ``__all__`` (classes, functions,
  data) through autodoc; a public name without a docstring is a build warning, hence an error
  under ``-W``;
* ``benchmarks.md``, which includes every ``benchmarks/*.md``;
* ``demos/<script>.md`` for every ``demos/*.py``: the script as a literate page (its docstring,
  or its Markdown cells in the jupytext "percent" layout, then its code), with the committed
  results ``demos.toml`` lists for it (tables included from their files, figures shown from
  theirs). Nothing is run: the figures are the committed files their commands wrote.

Both folders are build products (ignored by git); a file is rewritten only when its text
changes, so incremental builds stay incremental.
"""

from __future__ import annotations

import ast
import glob
import importlib
import inspect
import re
import tomllib
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

PACKAGES = ("lod_fenicsx", "nn_compress", "hybrid_pinn", "plumbing")
PERCENT_CELL = re.compile(r"^# %%")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


# --- API reference -------------------------------------------------------------------------------


def public_names(package: str) -> list[tuple[str, str]]:
    """``(name, defining module)`` of each name of the package's ``__all__``, in the order of its
    ``_API`` table (grouped by module, as the data flows)."""
    module = importlib.import_module(package)
    table = getattr(module, "_API", {name: "" for name in module.__all__})
    assert sorted(table) == sorted(module.__all__), f"{package}: _API and __all__ differ"
    return [(name, f"{package}.{sub}" if sub else package) for name, sub in table.items()]


def data_docstring(module: str, name: str) -> list[str]:
    """The ``#:`` comment (or string literal) that documents ``name`` where ``module`` assigns
    it; empty when there is none."""
    from sphinx.pycode import ModuleAnalyzer

    analyzer = ModuleAnalyzer.for_module(module)
    analyzer.analyze()
    return [line for line in analyzer.attr_docs.get(("", name), []) if line.strip()]


def api_page(package: str) -> str:
    """reST of one package's API page."""
    title = f"``{package}``"
    lines = [
        f".. _api-{package}:",
        "",
        title,
        "=" * len(title),
        "",
        f".. automodule:: {package}",
        "",
        f"Public names (``{package}.__all__``), grouped by the module that defines them.",
        "",
    ]
    pkg = importlib.import_module(package)
    for name, module in public_names(package):
        obj = getattr(pkg, name)
        if inspect.isclass(obj):
            lines += [f".. autoclass:: {package}.{name}", "   :members:"]
            if hasattr(obj, "__dataclass_fields__"):
                lines.append("   :undoc-members:")
            documented = bool(inspect.getdoc(obj))
        elif inspect.isroutine(obj):
            lines += [f".. autofunction:: {package}.{name}"]
            documented = bool(inspect.getdoc(obj))
        else:
            # Data (tables of presets, schedules, families): its ``#:`` comment where it is
            # assigned, as written (autodoc + napoleon would read "text: more" as "type: text").
            doc = data_docstring(module, name)
            lines += [f".. py:data:: {package}.{name}", ""]
            lines += [f"   {line}" for line in doc] + ["", f"   Defined in ``{module}``."]
            documented = bool(doc)
        if not documented:
            logger.warning(
                "%s.%s is public (in __all__) but has no docstring; write one in %s",
                package,
                name,
                module,
            )
        lines.append("")
    return "\n".join(lines)


# --- demo pages ----------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\*_<>\[\]$|])")


def _escape_prose(line: str) -> str:
    """Plain-text docstring prose as Markdown text: special characters escaped outside
    ``literal`` spans, a line that Markdown would read as a heading kept as text."""
    parts = re.split(r"(``.+?``|`[^`]+`)", line)
    out = "".join(
        ("`" + p.strip("`") + "`") if i % 2 else _MARKDOWN_SPECIAL.sub(r"\\\1", p)
        for i, p in enumerate(parts)
    )  # reST's ``literal`` is Markdown's `literal`
    if out.lstrip().startswith("#"):
        out = out.replace("#", "\\#", 1)
    return re.sub(r"::$", ":", out)


def docstring_markdown(text: str) -> str:
    """A demo's plain-text docstring (after its title) as Markdown: prose escaped, indented
    blocks (commands, formulas) as code blocks."""
    out, block = [], []

    def flush():
        if block:
            body = "\n".join(line[4:] if line.startswith("    ") else line for line in block)
            out.extend(["", "```text", body.rstrip("\n"), "```", ""])
            block.clear()

    for line in text.splitlines():
        if line.startswith("    ") or (block and not line.strip()):
            block.append(line)
            continue
        flush()
        out.append(_escape_prose(line))
    flush()
    return "\n".join(out).strip() + "\n"


def split_script(source: str) -> tuple[str, str, str]:
    """(title, docstring prose as Markdown, code after the docstring) of a plain demo script."""
    tree = ast.parse(source)
    doc = ast.get_docstring(tree, clean=True) or ""
    title, _, rest = doc.partition("\n\n")
    first = tree.body[0] if tree.body else None
    has_doc = isinstance(first, ast.Expr) and isinstance(
        getattr(first, "value", None), ast.Constant
    )
    code_lines = source.splitlines()[first.end_lineno :] if has_doc else source.splitlines()
    return " ".join(title.split()), docstring_markdown(rest), "\n".join(code_lines).strip("\n")


def percent_cells(source: str) -> list[tuple[str, str]]:
    """``("markdown" | "code", text)`` cells of a jupytext percent-format script."""
    import jupytext

    notebook = jupytext.reads(source, fmt="py:percent")
    return [(cell.cell_type, cell.source) for cell in notebook.cells if cell.source.strip()]


def _fence(code: str) -> str:
    return f"```python\n{code.strip()}\n```\n"


def demo_page(script: Path, root: Path, entry: dict, page_dir: Path) -> str:
    """MyST text of the page of ``demos/<script>``."""
    source = script.read_text()
    rel = Path("/".join([".."] * len(page_dir.relative_to(root).parts))) / script.relative_to(root)
    parts: list[str] = []
    if PERCENT_CELL.search(source):
        cells = percent_cells(source)
        heading = next((c for k, c in cells if k == "markdown" and c.startswith("# ")), None)
        title = entry.get("title") or (heading.splitlines()[0][2:] if heading else script.stem)
        if heading is not None and cells[0][1] is heading:
            # The first Markdown cell is the page's introduction, above the results.
            intro = "\n".join(heading.splitlines()[1:]).strip() + "\n"
            cells = cells[1:]
        else:
            intro = ""
        body = [text.strip() + "\n" if kind == "markdown" else _fence(text) for kind, text in cells]
        code = "\n".join(body)
    else:
        doc_title, intro, code_text = split_script(source)
        title = entry.get("title") or doc_title.rstrip(".")
        code = _fence(code_text)
    parts += [f"({script.stem})=", f"# {_escape_prose(title)}", ""]
    parts += [f"Script: {{download}}`demos/{script.name} <{rel.as_posix()}>`.", ""]
    if entry.get("paper"):
        parts += [f"Paper page: {{doc}}`/papers/{entry['paper']}`.", ""]
    if intro:
        parts += [intro]
    if entry.get("command"):
        parts += ["## Command", "", "```bash", entry["command"].strip(), "```", ""]
    results = entry.get("results", [])
    figures = entry.get("figures", [])
    if results or figures:
        parts += ["## Results", ""]
        if entry.get("results_note"):
            parts += [entry["results_note"].strip(), ""]
    for result in results:
        path = Path("/".join([".."] * len(page_dir.relative_to(root).parts))) / result
        parts += [f"```{{include}} {path.as_posix()}", ":heading-offset: 2", "```", ""]
    for figure in figures:
        for file in expand_figure(root, figure):
            path = Path("/".join([".."] * len(page_dir.relative_to(root).parts))) / file
            caption = figure.get("caption", "").strip()
            if "glob" in figure:
                caption = f"{caption} `{Path(file).name}`".strip()
            parts += [f"```{{figure}} {path.as_posix()}", ":width: 100%", "", caption, "```", ""]
    parts += ["## The script", "", code]
    return "\n".join(parts)


def expand_figure(root: Path, figure: dict) -> list[str]:
    """The repository-relative files of one ``demos.toml`` figure entry (``file`` or ``glob``)."""
    if "file" in figure:
        return [figure["file"]]
    found = sorted(glob.glob(figure["glob"], root_dir=root))
    if not found:
        logger.warning("demos.toml: no file matches %s", figure["glob"])
    return found


def load_demo_table(docs: Path) -> dict:
    with open(docs / "demos.toml", "rb") as f:
        return tomllib.load(f)


def demos_index(entries: list[tuple[str, str]]) -> str:
    lines = [
        "# Demos",
        "",
        "One page per script of `demos/`, rendered from the script itself: its text, the",
        "command, the committed results it wrote (tables and figures, nothing re-run when the",
        "site is built) and its code.",
        "",
        "```{toctree}",
        ":maxdepth: 1",
        "",
    ]
    lines += [f"{title} <{stem}>" for stem, title in entries]
    return "\n".join(lines + ["```", ""])


def benchmarks_page(root: Path) -> str:
    """MyST text of the benchmarks page: every ``benchmarks/*.md``, included as it is."""
    lines = [
        "# Benchmarks",
        "",
        "The written results of the scripts under `benchmarks/` (each file names the script and",
        "the machine that wrote it), included as they are. Run times of the demos are on",
        "{doc}`getting-started`; the long runs across sessions are on {doc}`long-runs`.",
        "",
    ]
    for path in sorted((root / "benchmarks").glob("*.md")):
        lines += [f"```{{include}} ../benchmarks/{path.name}", ":heading-offset: 1", "```", ""]
    return "\n".join(lines)


def generate(app) -> None:
    docs = Path(app.srcdir)
    root = docs.parent
    for package in PACKAGES:
        _write(docs / "api" / f"{package}.rst", api_page(package))
    table = load_demo_table(docs)
    page_dir = docs / "demos"
    scripts = sorted((root / "demos").glob("*.py"))
    for name in table:
        if not (root / "demos" / f"{name}.py").exists():
            logger.warning("demos.toml: demos/%s.py does not exist", name)
    entries = []
    for script in scripts:
        entry = table.get(script.stem, {})
        text = demo_page(script, root, entry, page_dir)
        _write(page_dir / f"{script.stem}.md", text)
        title = text.split("\n# ", 1)[1].split("\n", 1)[0]
        entries.append((script.stem, entry.get("short", title)))
    _write(page_dir / "index.md", demos_index(entries))
    _write(docs / "benchmarks.md", benchmarks_page(root))
    for stale in page_dir.glob("*.md"):
        if stale.stem != "index" and not (root / "demos" / f"{stale.stem}.py").exists():
            stale.unlink()


def setup(app):
    app.connect("builder-inited", generate)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
