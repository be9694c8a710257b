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
echo
echo "== speak: an English and a Mandarin sentence -> out/speech (WAV + JSON timestamps), and a mixed one"
tingshuo voices
tingshuo speak "Dr. Lee will arrive at 3:30 pm on March 5, 2024, and the ticket costs \$12.50." -o out/speech/en.wav
tingshuo speak "会议定于2024年3月5日下午3:30开始，门票¥50，已售出85%。" -o out/speech/zh.wav
tingshuo speak "我今天用 Python 写了一个程序。It worked the first time!" -o out/speech/mixed.mp3
python - <<'PY'
import json
for name in ("en", "zh", "mixed"):
    side = json.load(open(f"out/speech/{name}.json", encoding="utf-8"))
    for s in side["sentences"]:
        print(f"{name:6s} {s['start']:6.2f}-{s['end']:6.2f} s  {'+'.join(s['voices']):16s} {s['text']}")
PY
echo
echo "== chat: a two-turn spoken conversation with the bank knowledge base -> out/chat (reply WAVs + conversation.json)"
tingshuo speak "I lost my debit card this morning." -o out/chat/questions/q1.wav --sample-rate 16000
tingshuo speak "还有，你们周六营业吗？" -o out/chat/questions/q2.wav --sample-rate 16000
tingshuo chat --kb bank -i out/chat/questions/q1.wav -i out/chat/questions/q2.wav -o out/chat --verbose
echo
echo "== inspect: a small mixed-quality set (clean clips and injected defects) -> out/inspect/report.html"
PYTHON=python bash scripts/demo_inspect.sh
echo
echo "== index + search: the bundled clips as a tiny library -> out/library; a phrase, a Mandarin query for English speech, a question never answered there"
tingshuo index tests/data/jfk.wav tests/data/cathy_a0001.wav tests/data/zh_funasr_example.wav \
    tests/data/zh_aishell_S0724W0121.wav --index out/library -q
tingshuo search "ask not what your country can do" --index out/library --top 2
tingshuo search "你能为你的国家做什么" --index out/library --top 2
tingshuo search "what is the weather tomorrow" --index out/library --top 2
echo
echo "== align: word times of the known text of jfk.wav -> out/align (JSON, TextGrid, SRT)"
tingshuo align tests/data/jfk.wav --text "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country." \
    -o out/align -f json,textgrid,srt -q
python - <<'PY'
import json
doc = json.load(open("out/align/jfk.json", encoding="utf-8"))
print("  ".join(f"{w['text']} {w['start_s']:.2f}-{w['end_s']:.2f}" for w in doc["words"][:8]), "...")
PY
echo
echo "== serve: the HTTP/WebSocket API and the web page (start it yourself)"
echo "  tingshuo serve                 # http://127.0.0.1:8000 — page at /, API docs at /docs"
echo "  curl -F file=@tests/data/jfk.wav -F model=whisper-1 http://127.0.0.1:8000/v1/audio/transcriptions"
echo "  curl -H 'Content-Type: application/json' -d '{\"model\":\"tts-1\",\"input\":\"Hello there.\",\"voice\":\"alloy\",\"response_format\":\"wav\"}' http://127.0.0.1:8000/v1/audio/speech -o hello.wav"
