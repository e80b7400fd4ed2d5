#!/usr/bin/env bash
# The documentation site: Sphinx with warnings as errors, into docs/_build/html (ignored by git).
# Extra arguments go to sphinx-build (e.g. -E to re-read every page). Nothing is downloaded and
# no demo is run: the pages show the committed results.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${NH_DOCS_OUT:-docs/_build/html}
start=$(date +%s)
python3 -m sphinx -W --keep-going -q -b html -d docs/_build/doctrees "$@" docs "$out"
echo "== docs: $out/index.html, no warnings ($(($(date +%s) - start)) s)"
