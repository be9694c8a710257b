#!/usr/bin/env bash
# Inspect a small mixed-quality set built from the bundled clips; the report lands in out/inspect/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
"$PY" scripts/demo_inspect.py out/inspect-demo-set
tingshuo inspect out/inspect-demo-set/manifest.jsonl -o out/inspect --jobs 2
echo "keep: $(wc -l < out/inspect/keep.jsonl)  review: $(wc -l < out/inspect/review.jsonl)  drop: $(wc -l < out/inspect/drop.jsonl)"
echo "report: out/inspect/report.html"
