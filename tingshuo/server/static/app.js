// tingshuo web page: plain JavaScript against the server's own API (no build step).
"use strict";

const $ = (id) => document.getElementById(id);
const keyInput = $("api-key");
keyInput.value = localStorage.getItem("tingshuo-api-key") || "";
keyInput.addEventListener("change", () => localStorage.setItem("tingshuo-api-key", keyInput.value.trim()));

function authHeaders() {
  const key = keyInput.value.trim();
  return key ? { Authorization: "Bearer " + key } : {};
}

function wsUrl(path, params) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v != null) url.searchParams.set(k, v);
  const key = keyInput.value.trim();
  if (key) url.searchParams.set("api_key", key);
  return url.toString();
}

async function apiError(resp) {
  try {
    const body = await resp.json();
    return `${resp.status}: ${body.error ? body.error.message : JSON.stringify(body)}`;
  } catch (e) {
    return `${resp.status} ${resp.statusText}`;
  }
}

function setStatus(el, text, isError) {
  el.textContent = text;
  el.classList.toggle("error", !!isError);
}

function fmtTime(s) {
  const m = Math.floor(s / 60), sec = s - 60 * m;
  return `${m}:${sec.toFixed(1).padStart(4, "0")}`;
}

// ------------------------------------------------------------------ transcribe
const asrAudio = $("asr-audio"), asrStatus = $("asr-status"), transcriptBox = $("transcript");

async function transcribe(blob, name) {
  setStatus(asrStatus, "transcribing…");
  transcriptBox.textContent = "";
  asrAudio.src = URL.createObjectURL(blob);
  const form = new FormData();
  form.append("file", blob, name);
  form.append("model", "whisper-1");
  form.append("response_format", "verbose_json");
  const lang = $("asr-lang").value;
  if (lang) form.append("language", lang);
  const t0 = performance.now();
  const resp = await fetch("/v1/audio/transcriptions", { method: "POST", body: form, headers: authHeaders() });
  if (!resp.ok) { setStatus(asrStatus, await apiError(resp), true); return; }
  const result = await resp.json();
  showTranscript(result);
  setStatus(asrStatus, `${result.duration.toFixed(1)} s of audio, language ${result.language || "?"}, ` +
    `${((performance.now() - t0) / 1000).toFixed(1)} s. Click a line to hear it.`);
}

function showTranscript(result) {
  transcriptBox.textContent = "";
  const segments = result.segments && result.segments.length ? result.segments : [{ start: 0, end: result.duration, text: result.text }];
  for (const seg of segments) {
    const span = document.createElement("span");
    span.className = "seg";
    span.dataset.start = seg.start;
    span.dataset.end = seg.end;
    const ts = document.createElement("span");
    ts.className = "ts";
    ts.textContent = fmtTime(seg.start);
    span.append(ts, document.createTextNode(seg.text.trim() + " "));
    span.addEventListener("click", () => { asrAudio.currentTime = seg.start; asrAudio.play().catch(() => {}); });
    transcriptBox.append(span);
  }
}

asrAudio.addEventListener("timeupdate", () => {
  const t = asrAudio.currentTime;
  for (const el of transcriptBox.querySelectorAll(".seg"))
    el.classList.toggle("playing", t >= +el.dataset.start && t < +el.dataset.end);
});

$("asr-upload").addEventListener("click", () => {
  const file = $("asr-file").files[0];
  if (!file) { setStatus(asrStatus, "choose a file first", true); return; }
  transcribe(file, file.name);
});

let recorder = null;
$("rec-start").addEventListener("click", async () => {
  asrAudio.pause();  // playback would leak into the microphone (and echo cancellation would remove both)
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.onstop = () => {
      stream.getTracks().forEach((t) => t.stop());
      const blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
      transcribe(blob, "recording.webm");
    };
    recorder.start(250);
    $("rec-start").disabled = true; $("rec-stop").disabled = false;
    setStatus(asrStatus, "recording… press Stop when done");
  } catch (e) {
    setStatus(asrStatus, "microphone not available: " + e.message, true);
  }
});
$("rec-stop").addEventListener("click", () => {
  if (recorder && recorder.state !== "inactive") recorder.stop();
  $("rec-start").disabled = false; $("rec-stop").disabled = true;
});

// ------------------------------------------------------------------ speak
const ttsAudio = $("tts-audio"), ttsStatus = $("tts-status");

async function loadVoices() {
  try {
    const resp = await fetch("/v1/voices", { headers: authHeaders() });
    if (!resp.ok) return;
    const sel = $("tts-voice");
    for (const v of (await resp.json()).data) {
      if (!v.installed) continue;
      const opt = document.createElement("option");
      opt.value = v.name;
      opt.textContent = `${v.name} (${v.languages.join(", ")})`;
      sel.append(opt);
    }
  } catch (e) { /* the list is a convenience */ }
}
loadVoices();

$("tts-go").addEventListener("click", async () => {
  const text = $("tts-text").value.trim();
  if (!text) { setStatus(ttsStatus, "type something to say", true); return; }
  setStatus(ttsStatus, "synthesising…");
  const t0 = performance.now();
  const resp = await fetch("/v1/audio/speech", {
    method: "POST", headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify({ model: "tts-1", input: text, voice: $("tts-voice").value,
                           speed: parseFloat($("tts-speed").value) || 1.0, response_format: "wav" }),
  });
  if (!resp.ok) { setStatus(ttsStatus, await apiError(resp), true); return; }
  const reader = resp.body.getReader();
  const parts = [];
  let first = null;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (first === null) first = performance.now() - t0;
    parts.push(value);
  }
  const blob = await fixWavSizes(new Blob(parts, { type: "audio/wav" }));
  ttsAudio.src = URL.createObjectURL(blob);
  ttsAudio.play().catch(() => {});
  setStatus(ttsStatus, `first audio after ${Math.round(first)} ms, all after ${Math.round(performance.now() - t0)} ms`);
});

// A streamed WAV says "unknown length"; write the real sizes so the <audio> element can seek.
async function fixWavSizes(blob) {
  const buf = new Uint8Array(await blob.arrayBuffer());
  if (buf.length >= 44) {
    const view = new DataView(buf.buffer);
    view.setUint32(4, buf.length - 8, true);
    view.setUint32(40, buf.length - 44, true);
  }
  return new Blob([buf], { type: "audio/wav" });
}

// ------------------------------------------------------------------ chat
const chatLog = $("chat-log"), chatStatus = $("chat-status");
let chatWs = null, playCtx = null, playAt = 0, playing = [], outRate = 24000, micCtx = null, micNode = null, micStream = null;
let partialEl = null;

function logMsg(cls, text) {
  const div = document.createElement("div");
  div.className = "msg " + cls;
  div.textContent = text;
  chatLog.append(div);
  chatLog.scrollTop = chatLog.scrollHeight;
  return div;
}

function playPcm(data) {
  if (!playCtx) return;
  const pcm = new Int16Array(data);
  const buf = playCtx.createBuffer(1, pcm.length, outRate);
  const ch = buf.getChannelData(0);
  for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
  const src = playCtx.createBufferSource();
  src.buffer = buf;
  src.connect(playCtx.destination);
  playAt = Math.max(playAt, playCtx.currentTime + 0.05);
  src.start(playAt);
  playAt += buf.duration;
  playing.push(src);
  src.onended = () => { playing = playing.filter((s) => s !== src); };
}

function stopPlayback() {
  for (const s of playing) { try { s.stop(); } catch (e) { /* already stopped */ } }
  playing = [];
  if (playCtx) playAt = playCtx.currentTime;
}

function onChatEvent(ev) {
  switch (ev.type) {
    case "ready":
      outRate = ev.sample_rate_out;
      setStatus(chatStatus, `connected (knowledge base: ${ev.knowledge_base || "?"})`);
      $("chat-mic").disabled = false;
      break;
    case "transcription_partial":
      if (!partialEl) partialEl = logMsg("user partial", ev.text); else partialEl.textContent = ev.text;
      break;
    case "transcription_final":
      if (partialEl) { partialEl.remove(); partialEl = null; }
      logMsg("user", ev.text || "(not understood)");
      break;
    case "bot_text_end":
      logMsg("bot", ev.text);
      break;
    case "interruption":
      stopPlayback();
      logMsg("note", "(interrupted)");
      break;
    case "handoff":
      logMsg("note", "→ transferring to a human agent");
      break;
    case "error":
      setStatus(chatStatus, ev.error ? ev.error.message : "error", true);
      break;
  }
}

$("chat-connect").addEventListener("click", () => {
  if (chatWs) { chatWs.close(); return; }
  playCtx = playCtx || new AudioContext();
  chatWs = new WebSocket(wsUrl("/v1/chat", {}));
  chatWs.binaryType = "arraybuffer";
  setStatus(chatStatus, "connecting…");
  chatWs.onmessage = (m) => {
    if (typeof m.data === "string") onChatEvent(JSON.parse(m.data)); else playPcm(m.data);
  };
  chatWs.onclose = () => {
    setStatus(chatStatus, "disconnected");
    chatWs = null; stopMic();
    $("chat-connect").textContent = "Connect"; $("chat-mic").disabled = true;
  };
  $("chat-connect").textContent = "Disconnect";
});

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("chat-text").value.trim();
  if (!text) return;
  if (!chatWs || chatWs.readyState !== WebSocket.OPEN) { setStatus(chatStatus, "connect first", true); return; }
  stopPlayback();
  logMsg("user", text);
  chatWs.send(JSON.stringify({ type: "text", text }));
  $("chat-text").value = "";
});

async function startMic() {
  micStream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
  micCtx = new AudioContext({ sampleRate: 16000 });
  const source = micCtx.createMediaStreamSource(micStream);
  micNode = micCtx.createScriptProcessor(2048, 1, 1);
  micNode.onaudioprocess = (e) => {
    if (!chatWs || chatWs.readyState !== WebSocket.OPEN) return;
    const x = e.inputBuffer.getChannelData(0);
    const pcm = new Int16Array(x.length);
    for (let i = 0; i < x.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, x[i] * 32768));
    chatWs.send(pcm.buffer);
  };
  source.connect(micNode);
  micNode.connect(micCtx.destination);
  $("chat-mic").textContent = "■ Stop talking";
}

function stopMic() {
  if (micNode) micNode.disconnect();
  if (micStream) micStream.getTracks().forEach((t) => t.stop());
  if (micCtx) micCtx.close();
  micNode = micStream = micCtx = null;
  $("chat-mic").textContent = "🎤 Start talking";
}

$("chat-mic").addEventListener("click", async () => {
  if (micCtx) { stopMic(); if (chatWs) chatWs.send(JSON.stringify({ type: "end" })); return; }
  try { await startMic(); } catch (e) { setStatus(chatStatus, "microphone not available: " + e.message, true); }
});

// ------------------------------------------------------------------ inspect
const inspStatus = $("insp-status");

function findingText(f) {
  if (typeof f === "string") return f;
  return f.message || f.detail || f.code || f.check || f.name || JSON.stringify(f);
}

$("insp-go").addEventListener("click", async () => {
  const files = $("insp-files").files;
  if (!files.length) { setStatus(inspStatus, "choose one or more clips", true); return; }
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  setStatus(inspStatus, `inspecting ${files.length} clip(s)…`);
  const resp = await fetch("/v1/inspect", { method: "POST", body: form, headers: authHeaders() });
  if (!resp.ok) { setStatus(inspStatus, await apiError(resp), true); return; }
  const result = await resp.json();
  const body = $("insp-results").querySelector("tbody");
  body.textContent = "";
  result.data.forEach((r, i) => {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = r.id || r.file || files[i].name;
    const grade = document.createElement("td");
    grade.textContent = r.grade;
    grade.className = "grade grade-" + r.grade;
    const findings = document.createElement("td");
    findings.textContent = (r.findings || []).map(findingText).join("; ") || "—";
    tr.append(name, grade, findings);
    body.append(tr);
  });
  setStatus(inspStatus, Object.entries(result.grades).map(([g, n]) => `${n} ${g}`).join(", "));
});

// ------------------------------------------------------------------ search (spoken-content search)
{
  const status = $("search-status"), list = $("search-results"), player = $("search-audio");
  const CONTEXT_S = 3;  // seconds of audio before the hit, so the player starts just at it

  function marked(text) {  // the snippet's **matched words** as <mark>, everything else as text
    const frag = document.createDocumentFragment();
    text.split(/(\*\*[^*]+\*\*)/).forEach((part) => {
      if (part.startsWith("**") && part.endsWith("**") && part.length > 4) {
        const m = document.createElement("mark");
        m.textContent = part.slice(2, -2);
        frag.append(m);
      } else if (part) frag.append(document.createTextNode(part));
    });
    return frag;
  }

  const LEAD_S = 1;  // the player starts this long before the matched words (never before the hit)

  async function play(hit) {
    const from = Math.max(0, hit.start_s - CONTEXT_S);
    const matchStart = hit.match_start_s ?? hit.start_s;
    const cue = Math.max(hit.start_s, matchStart - LEAD_S);
    const url = `/v1/search/clip?audio=${encodeURIComponent(hit.audio)}&start_s=${from}&end_s=${hit.end_s + 1}`;
    const resp = await fetch(url, { headers: authHeaders() });
    if (!resp.ok) { setStatus(status, await apiError(resp), true); return; }
    player.src = URL.createObjectURL(await resp.blob());
    player.dataset.hitStart = cue - from;
    player.onloadedmetadata = () => { player.currentTime = cue - from; player.play().catch(() => {}); };
  }

  async function search(ev) {
    ev.preventDefault();
    const query = $("search-q").value.trim();
    if (!query) { setStatus(status, "Type what you are looking for.", true); return; }
    setStatus(status, "searching…");
    list.textContent = "";
    const params = new URLSearchParams({ query, top: "10" });
    if ($("search-lang").value) params.set("lang", $("search-lang").value);
    const resp = await fetch("/v1/search?" + params, { headers: authHeaders() });
    if (!resp.ok) { setStatus(status, await apiError(resp), true); return; }
    const result = await resp.json();
    for (const hit of result.hits) {
      const li = document.createElement("li");
      li.className = "hit";
      li.dataset.start = hit.start_s;
      const where = document.createElement("div");
      where.className = "where";
      where.textContent = `${hit.audio.split("/").pop()} · ${fmtTime(hit.start_s)}–${fmtTime(hit.end_s)} · ` +
        `score ${hit.score.toFixed(2)} · ${hit.matched_by.join(", ")}`;
      const text = document.createElement("div");
      text.append(marked(hit.text));
      li.append(where, text);
      li.addEventListener("click", () => play(hit));
      list.append(li);
    }
    setStatus(status, result.hits.length ? `${result.hits.length} hit(s). Click one to hear it.` : result.message);
  }

  async function addFiles() {
    const files = $("search-files").files;
    if (!files.length) { setStatus(status, "Choose audio files to add.", true); return; }
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    setStatus(status, `indexing ${files.length} file(s)…`);
    const resp = await fetch("/v1/index", { method: "POST", body: form, headers: authHeaders() });
    if (!resp.ok) { setStatus(status, await apiError(resp), true); return; }
    const r = await resp.json();
    setStatus(status, `indexed: ${r.added} added, ${r.failed.length} failed; the library holds ${r.index.files} file(s).`,
      r.failed.length > 0);
  }

  $("search-form").addEventListener("submit", search);
  $("search-add").addEventListener("click", addFiles);
}
