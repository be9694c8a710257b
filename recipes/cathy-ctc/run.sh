#!/usr/bin/env bash
# cathy-ctc: prepare -> train -> decode -> export -> transcribe with the export (no torch needed there).
# Usage: recipes/cathy-ctc/run.sh [stage]   (stages: prepare train decode export transcribe; default: all)
# Environment: DATA (default ../shared/data), RUN (default runs/cathy), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data}
RUN=${RUN:-runs/cathy}
THREADS=${THREADS:-2}
TINGSHUO=${TINGSHUO:-tingshuo}
stage=${1:-all}
export OMP_NUM_THREADS=$THREADS

if [[ $stage == all || $stage == prepare ]]; then
  python recipes/cathy-ctc/prepare.py --data "$DATA" --out runs/cathy-data
fi
if [[ $stage == all || $stage == train ]]; then
  if [[ -f $RUN/last.pt ]]; then resume=--resume; else resume=; fi   # rerunning continues an interrupted run
  $TINGSHUO train asr --config recipes/cathy-ctc/conf.yaml --out "$RUN" --threads "$THREADS" $resume
fi
if [[ $stage == all || $stage == decode ]]; then
  for method in greedy rescore; do
    $TINGSHUO train decode "$RUN" runs/cathy-data/test.jsonl --method $method --beam 8 --threads "$THREADS"
  done
fi
if [[ $stage == all || $stage == export ]]; then
  $TINGSHUO train export "$RUN"
fi
if [[ $stage == all || $stage == transcribe ]]; then
  clip=$(head -1 runs/cathy-data/test.jsonl | python -c 'import json,sys; print(json.loads(sys.stdin.readline())["audio"])')
  $TINGSHUO transcribe "$clip" --model "$RUN/export" --format txt -o - --no-vad
fi
