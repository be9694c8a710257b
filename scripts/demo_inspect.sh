#!/usr/bin/env bash
# Inspect a small mixed-quality set built from the bundled clips; the report lands in out/inspect/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
"$PY" scripts/demo_inspect.py out/inspect-demo-set
# The set holds a corrupt file on purpose: inspect reports it, grades it low and exits 1 (anything else fails).
status=0
tingshuo inspect out/inspect-demo-set/manifest.jsonl -o out/inspect --jobs 2 || status=$?
if [ "$status" -ne 1 ]; then echo "inspect exited $status; expected 1 (one corrupt clip planted)" >&2; exit 1; fi
echo "keep: $(wc -l < out/inspect/keep.jsonl)  review: $(wc -l < out/inspect/review.jsonl)  drop: $(wc -l < out/inspect/drop.jsonl)"
echo "report: out/inspect/report.html"
