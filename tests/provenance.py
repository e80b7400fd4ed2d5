"""Reading a results README's printed numbers as test cases (no tests here).

A README's tables are found by their section, column header and row labels; its prose by the
words around the numbers (a template in which ``#`` stands for one number). Each printed number
becomes one case ``(id, printed, problem, value)``, where ``value`` is a callable giving the
source value (or a tuple of values that must all round to the printed number), and ``problem``
says why no number could be read. A case passes when the printed number is the source value
rounded to the printed digits (``agrees``).
"""

from __future__ import annotations

import functools
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# One printed number: a sign only as − or + (so "1-3" is 1 and 3), space-separated thousands
# ("81 920"), decimals, exponent.
NUMBER = r"[−+]?\d+(?: \d{3})*(?:\.\d+)?(?:e[−+-]?\d+)?(?!\d)"


@functools.cache
def git_show(commit: str, path: str) -> str:
    """A file as committed in ``commit`` (the test is skipped where there is no git history)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        out = None
    if out is None or out.returncode != 0:
        pytest.skip(f"{path} at {commit}: no git history here")
    return out.stdout


def lookup(source, *keys, scale: float = 1.0):
    """The value at ``keys`` of the nested dict that ``source()`` gives (a case's source)."""

    def value():
        v = source()
        for k in keys:
            v = v[k]
        return v * scale if scale != 1.0 else v

    return value


def ratio(a, b):
    return lambda: a() / b()


def every(*values):
    """One printed number standing for several values (each must round to it)."""
    return lambda: tuple(v() for v in values)


def const(v):
    return lambda: v


def agrees(printed: str, value) -> bool:
    """``printed`` is ``value`` rounded to the printed digits (integers: equal). Trailing zeros
    of an integer of three or more digits are not significant ("4500" stands for 4.5e3), "10"
    stands for 10 ± 0.5."""
    text = printed.replace("−", "-").replace(" ", "")
    if isinstance(value, int) and not isinstance(value, bool):
        return re.fullmatch(r"[+-]?\d+", text) is not None and int(text) == value
    whole, frac, exp = re.fullmatch(r"[+-]?(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?", text).groups()
    exp = int(exp or 0)
    if frac:
        last = exp - len(frac)
    elif len(whole) >= 3 and not exp:
        last = len(whole) - len(whole.rstrip("0"))
    else:
        last = exp
    return abs(float(text) - value) <= 0.5 * 10.0**last * (1 + 1e-9)


def check(printed: str | None, problem: str | None, value) -> None:
    """The assertion of one case."""
    assert problem is None, problem
    expected = value()
    for v in expected if isinstance(expected, tuple) else (expected,):
        assert agrees(printed, v), f"README prints {printed}, the source gives {v!r}"


class ReadmeCases:
    """The cases read from one README."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self.cases: list[tuple[str, str | None, str | None, object]] = []

    def sections(self) -> dict[str, str]:
        text = self.path.read_text()
        return {
            title: body
            for title, _, body in (
                chunk.partition("\n") for chunk in re.split(r"^## ", text, flags=re.M)[1:]
            )
        }

    def table(self, section: str, *columns: str) -> tuple[list[str], list[list[str]]]:
        """(header, rows) of the table in the section titled ``section...`` with these columns."""
        for title, body in self.sections().items():
            if not title.startswith(section):
                continue
            tables, current = [], []
            for line in body.splitlines() + [""]:
                if line.startswith("|"):
                    current.append([c.strip() for c in line.strip().strip("|").split("|")])
                elif current:
                    tables.append(current)
                    current = []
            for table in tables:
                if all(any(column in cell for cell in table[0]) for column in columns):
                    return table[0], table[2:]
        raise LookupError(f"no table with the columns {columns} in section {section!r}")

    @staticmethod
    def row(rows: list[list[str]], *labels: str) -> list[str]:
        found = [r for r in rows if all(r[i].startswith(lab) for i, lab in enumerate(labels))]
        if len(found) != 1:
            raise LookupError(f"{len(found)} rows labelled {labels}")
        return found[0]

    @staticmethod
    def cell(header: list[str], row: list[str], column: str) -> str:
        return row[next(i for i, h in enumerate(header) if column in h)]

    def numbers(self, case_id: str, text: str, values: list) -> None:
        """One case per number of ``text``, in order against ``values``."""
        found = re.findall(NUMBER, text)
        if len(found) != len(values):
            self.cases.append((case_id, None, f"{len(values)} numbers expected in {text!r}", None))
            return
        for i, (printed, value) in enumerate(zip(found, values)):
            self.cases.append((f"{case_id}[{i}]", printed, None, value))

    def prose(self, case_id: str, template: str, values: list, after: str = "") -> None:
        """The numbers at the ``#`` of ``template`` in the README (whitespace-normalised), at its
        first match after the first occurrence of ``after``."""
        text = " ".join(self.path.read_text().split())
        start = text.find(after)
        pattern = f"({NUMBER})".join(re.escape(part) for part in template.split("#"))
        match = re.compile(pattern).search(text, max(start, 0)) if start >= 0 else None
        if match is None:
            self.cases.append((case_id, None, f"not in the README: {template!r}", None))
            return
        for i, (printed, value) in enumerate(zip(match.groups(), values, strict=True)):
            self.cases.append((f"{case_id}[{i}]", printed, None, value))

    def guarded(self, build):
        """Run a case builder; a README that no longer has the table is one failing case."""
        try:
            build()
        except (LookupError, StopIteration, IndexError, ValueError, OSError) as e:
            self.cases.append((build.__name__, None, f"{type(e).__name__}: {e}", None))
        return build

    def parametrize(self):
        """The test's decorator: one test per case, named by its id."""
        return pytest.mark.parametrize(
            "printed, problem, value",
            [case[1:] for case in self.cases],
            ids=[case[0] for case in self.cases],
        )
