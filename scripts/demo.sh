#!/usr/bin/env bash
# The main jobs on the default offline models; everything lands in out/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
echo "== tingshuo models"
tingshuo models
echo
echo "== transcribe: the bundled English and Mandarin clips -> out/transcripts (SRT, VTT, JSON, TXT)"
tingshuo transcribe tests/data/jfk.wav tests/data/cathy_a0001.wav tests/data/zh_funasr_example.wav \
    tests/data/zh_aishell_S0724W0121.wav --word-timestamps --format txt,srt,vtt,json -o out/transcripts
echo
for f in out/transcripts/*.txt; do printf '%-40s %s\n' "$(basename "$f")" "$(cat "$f")"; done
echo
echo "== first subtitles of jfk.wav"
head -n 8 out/transcripts/jfk.srt
