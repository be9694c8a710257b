"""--ray on real Ray clusters on this machine: the same bytes as a local run, and nothing lost when an
actor, a node or the driver dies. Clusters are torn down by recorded pids; no Ray process may remain.

One two-node cluster (1 CPU per node, token authentication on) is shared by the module; the first
test starts its own local Ray through the CLI, as a laptop user would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from tingshuo.testing import models_installed

pytestmark = [pytest.mark.ray, pytest.mark.slow,
              pytest.mark.skipif(not models_installed(), reason="needs the models extra")]
pytest.importorskip("ray.data", reason="needs Ray: pip install 'tingshuo[ray]' (make test installs it)")

from tingshuo.testing.ray import MARKER_VARIABLE, LocalCluster, alive, mark_environment, ray_processes  # noqa: E402

MODEL = "whisper-tiny.en"
CLIPS = ("cathy_a0001.wav", "cathy_a0005.wav", "onetwothree_u8_44k.wav", "silence_48k.wav")
N_CLIPS = 24


def cli(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "tingshuo", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300, **kw)


@pytest.fixture(scope="module")
def ray_mark():
    """This module's mark on every Ray process it starts (others may run Ray on the same machine)."""
    return mark_environment()


def ours(marker: str) -> set[int]:
    return ray_processes(marker)


@pytest.fixture(scope="module")
def cluster(ray_mark):
    c = LocalCluster(nodes=2, cpus_per_node=1).start()
    try:
        yield c
    finally:
        leftovers = c.shutdown()
        time.sleep(0.5)
        remaining = ours(ray_mark)
        assert not leftovers, f"Ray processes outlived the cluster's shutdown: {sorted(leftovers)}"
        assert not remaining, f"Ray processes left behind: {sorted(remaining)}"


@pytest.fixture(scope="module")
def clips(tmp_path_factory, data_dir):
    """N_CLIPS short real clips (copies of four bundled ones) in one folder; clip name -> source name."""
    folder = tmp_path_factory.mktemp("clips")
    names = {}
    for k in range(N_CLIPS):
        src = CLIPS[k % len(CLIPS)]
        shutil.copy(data_dir / src, folder / f"clip{k:02d}.wav")
        names[f"clip{k:02d}"] = src
    return folder, names


@pytest.fixture(scope="module")
def expected(data_dir):
    """The local run's JSON for each source clip (its ``source`` field left out: it names the path)."""
    from tingshuo.asr.formats import render
    from tingshuo.asr.pipeline import Transcriber

    t = Transcriber(MODEL)
    return {name: _without_source(render(t.transcribe(data_dir / name), "json")) for name in CLIPS}


def _without_source(text: str) -> dict:
    d = json.loads(text)
    d.pop("source")
    return d


def _check_all(results: dict, clips) -> None:
    folder, names = clips
    assert sorted(results) == list(range(N_CLIPS))
    for i, t in results.items():
        assert not isinstance(t, Exception), t
        assert t.source == str(folder / f"clip{i:02d}.wav")


def test_cli_ray_on_a_local_ray_writes_the_same_bytes(tmp_path, data_dir, ray_mark):
    """--ray with no address starts a local Ray: every output file and manifest line, and the error
    for a broken file, are byte for byte those of the plain run."""
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt nonsense")
    token = tmp_path / "token"
    token.write_text("local-test-token-" + "0" * 40)
    ray_tmp = tempfile.mkdtemp(prefix="tsr-", dir="/tmp")  # short: Ray's socket paths have a length limit
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token),  # keeps ~/.ray untouched
               RAY_TMPDIR=ray_tmp)  # and /tmp/ray: the local Ray's session folder goes here
    env[MARKER_VARIABLE] = f"cli-{os.getpid()}-{time.time_ns()}"  # the CLI's own Ray, told from the cluster's
    cli_mark = f"{MARKER_VARIABLE}={env[MARKER_VARIABLE]}"
    common = [data_dir, broken, "-m", MODEL, "-f", "all"]
    plain = cli("transcribe", *common, "-o", tmp_path / "plain", "--manifest-out", tmp_path / "plain" / "m.jsonl",
                env=env)
    ray = cli("transcribe", *common, "-o", tmp_path / "ray", "--manifest-out", tmp_path / "ray" / "m.jsonl",
              "--ray", env=env)
    assert plain.returncode == ray.returncode == 1, ray.stderr  # the broken file
    errors = lambda r: sorted(x for x in r.stderr.splitlines() if x.startswith("error:"))  # noqa: E731
    assert errors(plain) == errors(ray) and len(errors(ray)) == 1 and "broken.wav" in errors(ray)[0]
    assert "Traceback" not in ray.stderr and "on Ray:" in ray.stderr
    files = sorted(p.relative_to(tmp_path / "plain") for p in (tmp_path / "plain").rglob("*") if p.is_file())
    assert len(files) == 10 * 5 + 1
    assert files == sorted(p.relative_to(tmp_path / "ray") for p in (tmp_path / "ray").rglob("*") if p.is_file())
    for rel in files:
        assert (tmp_path / "plain" / rel).read_bytes() == (tmp_path / "ray" / rel).read_bytes(), rel
    deadline = time.monotonic() + 20  # Ray's daemons and workers end a moment after the CLI
    while ours(cli_mark) and time.monotonic() < deadline:
        time.sleep(0.5)
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert not ours(cli_mark), "the CLI's local Ray outlived it"


def test_two_nodes_share_the_work_and_losing_one_loses_nothing(cluster, clips, expected):
    from tingshuo.asr.formats import render
    from tingshuo.scale import RayOptions, RunStats, transcribe_many

    folder, names = clips
    extra = cluster.add_node()
    extra_id = extra.node_id
    stats = RunStats()
    opts = RayOptions(address=cluster.address, items_per_batch=1, stall_timeout_s=45)
    results, removed_after = {}, None
    paths = [folder / f"clip{k:02d}.wav" for k in range(N_CLIPS)]
    for i, t in transcribe_many(paths, MODEL, ray=opts, stats=stats):
        assert i not in results, f"input {i} delivered twice"
        results[i] = t
        if removed_after is None and (stats.per_node.get(extra_id) or len(results) >= 12):
            cluster.remove_node(extra)  # its raylet, workers and actor die with whatever they held
            removed_after = len(results)
    assert removed_after is not None and removed_after < N_CLIPS
    _check_all(results, clips)
    for i, t in results.items():
        assert _without_source(render(t, "json")) == expected[names[f"clip{i:02d}"]], i
    assert len(stats.per_node) >= 2, f"only one node did work: {dict(stats.per_node)}"
    assert stats.per_node[extra_id] >= 1


def test_killing_an_actor_mid_run_loses_nothing(cluster, clips, expected):
    from tingshuo.asr.base import TranscribeOptions
    from tingshuo.asr.formats import render
    from tingshuo.scale import RayOptions, RunStats, connect, run_items
    from tingshuo.scale.transcribe import job, rows_for

    folder, names = clips
    opts = RayOptions(address=cluster.address, items_per_batch=1)
    rows = rows_for([str(folder / f"clip{k:02d}.wav") for k in range(N_CLIPS)])
    stats = RunStats()
    killed, results, pids_after = None, {}, set()
    with connect(opts) as info:
        for out in run_items(rows, job(MODEL, TranscribeOptions(), opts), opts, info, stats):
            assert out.index not in results
            results[out.index] = out.error or out.value
            if killed is None and len(results) == 2:
                killed = out.pid
                os.kill(killed, signal.SIGKILL)
            elif killed is not None:
                pids_after.add(out.pid)
    _check_all(results, clips)
    for i, t in results.items():
        assert _without_source(render(t, "json")) == expected[names[f"clip{i:02d}"]], i
    assert killed and not alive(killed)
    # results the actor finished before it died may still arrive; then the others (or its restart) go on
    assert pids_after - {killed}, "no actor produced anything after the kill"


def test_a_killed_driver_resumes_with_only_the_rest(cluster, clips, tmp_path, expected):
    folder, names = clips
    out = tmp_path / "out"
    env = {**os.environ, **cluster.env}
    env.pop("RAY_ADDRESS", None)
    args = ["transcribe", folder, "-m", MODEL, "-f", "json", "-o", out, "--ray-address", cluster.address,
            "--ray-batch", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "tingshuo", *map(str, args)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while len(list(out.glob("*.json"))) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    done_before = len(list(out.glob("*.json")))
    assert 3 <= done_before < N_CLIPS, f"{done_before} outputs before the kill"
    again = cli(*args, "--skip-existing", env=env)
    assert again.returncode == 0, again.stderr
    summary = [x for x in again.stderr.splitlines() if x.startswith("transcribed")][0]
    n_done, n_skipped = int(summary.split()[1]), int(summary.split(", ")[-1].split()[0]) if "skipped" in summary else 0
    assert n_skipped >= done_before and n_done + n_skipped == N_CLIPS and n_done < N_CLIPS, summary
    for k in range(N_CLIPS):
        got = _without_source((out / f"clip{k:02d}.json").read_text())
        assert got == expected[names[f"clip{k:02d}"]], k
    assert not list(out.glob(".*.tmp")), "temporaries of the killed run were left behind"


def test_executor_and_function_map_report_errors_per_item_and_stop_on_a_stall(cluster, data_dir):
    from tingshuo.errors import EngineError, InputError
    from tingshuo.scale import Job, RayOptions, connect, run_items

    opts = RayOptions(address=cluster.address, items_per_batch=2)
    rows = [{"index": i, "path": f"bad:{i}" if i % 5 == 0 else f"p{i}"} for i in range(20)]
    echo = Job("tingshuo.testing.ray:EchoWorker", {}, memory_gb=0.1)
    with connect(opts) as info:
        outs = {o.index: o for o in run_items(rows, echo, opts, info)}
        assert sorted(outs) == list(range(20))
        assert all(isinstance(outs[i].error, InputError) for i in range(0, 20, 5))
        assert outs[3].value["path"] == "p3" and outs[3].error is None
    from tingshuo.scale.functions import RayMapExecutor
    from tingshuo.testing.ray import measure_name

    relative = os.path.relpath(data_dir / "jfk.wav")  # actors work in the driver's folder
    tasks = [(f"t{i}", (p, 3)) for i, p in enumerate(["a.wav", "bad:b.wav", "crash:c.wav", "dd.wav", relative])]
    with RayMapExecutor(opts, memory_gb=0.1)(2, None) as ex:
        got = dict(ex.map(measure_name, tasks))
    assert got["t0"]["value"] == 15 and got["t3"]["value"] == 18
    assert got["t4"]["exists"] and not got["t0"]["exists"]
    assert isinstance(got["t1"], InputError) and isinstance(got["t2"], EngineError) and "crash:c.wav" in str(got["t2"])
    with connect(opts) as info:
        slow = Job("tingshuo.testing.ray:EchoWorker", {"delay_s": 60.0}, memory_gb=0.1)
        t0 = time.monotonic()
        with pytest.raises(EngineError, match="No result from the Ray cluster for 2 s"):
            list(run_items(rows[:2], slow, RayOptions(address=cluster.address, stall_timeout_s=2), info))
        assert time.monotonic() - t0 < 30


def test_a_poison_input_fails_alone_and_its_batch_mates_finish(cluster):
    from tingshuo.errors import EngineError
    from tingshuo.scale import Job, RayOptions, RunStats, connect, run_items

    opts = RayOptions(address=cluster.address, items_per_batch=2, task_retries=0, max_attempts=2)
    rows = [{"index": i, "path": "die:x" if i == 2 else f"p{i}"} for i in range(6)]
    stats = RunStats()
    with connect(opts) as info:
        outs = {o.index: o for o in run_items(rows, Job("tingshuo.testing.ray:EchoWorker", {}, memory_gb=0.1),
                                               opts, info, stats)}
    assert sorted(outs) == list(range(6))
    assert isinstance(outs[2].error, EngineError) and "not processed after 2 passes" in str(outs[2].error)
    assert all(outs[i].error is None and outs[i].value["path"] == f"p{i}" for i in (0, 1, 3, 4, 5))
    assert stats.redone >= 2 and stats.lost == 1  # input 3 shared the poison batch and was redone


def test_transcribe_dataset_maps_a_ray_dataset_of_paths(cluster, clips, expected):
    import ray

    from tingshuo.scale import RayOptions, transcribe_dataset

    folder, names = clips
    paths = [str(folder / f"clip{k:02d}.wav") for k in range(4)] + [str(folder / "missing.wav")]
    ray.init(address=cluster.address)
    try:
        ds = ray.data.from_items([{"path": p} for p in paths])
        rows = {r["path"]: r for r in transcribe_dataset(ds, "whisper-tiny.en", ray=RayOptions()).take_all()}
    finally:
        ray.shutdown()
    assert sorted(rows) == sorted(paths)
    for k in range(4):
        row = rows[paths[k]]
        assert row["error"] == "" and _without_source(row["json"]) == expected[names[f"clip{k:02d}"]]
        assert row["text"] == expected[names[f"clip{k:02d}"]]["text"]
    assert "missing.wav" in rows[paths[4]]["error"] and rows[paths[4]]["text"] == ""


def test_cli_inspect_on_ray_gives_the_local_results(cluster, tmp_path, data_dir):
    """inspect --ray: signal and transcript checks on the cluster's actors; the store, duplicates,
    grades and manifests on the driver — the same results.jsonl and manifests as the plain run."""
    rows = [json.loads(x) for x in (data_dir / "manifest.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["audio"] in ("jfk.wav", "cathy_a0005.wav", "zh_funasr_example.wav")]
    shutil.copy(data_dir / "cathy_a0005.wav", tmp_path / "copy.wav")  # a duplicate, found on the driver
    rows = [{**r, "audio": str(data_dir / r["audio"])} for r in rows] + [{**rows[1], "audio": str(tmp_path / "copy.wav")}]
    manifest = tmp_path / "in.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {**os.environ, **cluster.env}
    env.pop("RAY_ADDRESS", None)
    common = ["inspect", manifest, "--asr-model", MODEL]
    plain = cli(*common, "-o", tmp_path / "plain", "-q", env=env)
    ray = cli(*common, "-o", tmp_path / "ray", "--ray-address", cluster.address, env=env)
    assert plain.returncode == ray.returncode == 0, ray.stderr
    # one or both of the two nodes' actors may deliver, depending on which starts first
    assert "Traceback" not in ray.stderr and re.search(r"on Ray: [12] actor process", ray.stderr), ray.stderr[-500:]
    got = lambda d: [json.loads(x) for x in (d / "results.jsonl").read_text().splitlines()]  # noqa: E731
    assert got(tmp_path / "ray") == got(tmp_path / "plain") and len(got(tmp_path / "plain")) == 4
    assert any("duplicate" in json.dumps(r) for r in got(tmp_path / "ray"))
    for name in ("keep.jsonl", "review.jsonl", "drop.jsonl"):
        a, b = tmp_path / "plain" / name, tmp_path / "ray" / name
        assert a.exists() == b.exists() and (not a.exists() or a.read_bytes() == b.read_bytes()), name


# ---------------------------------------------------------------------------------------------- index --ray

def _index_contents(folder) -> dict:
    """What a search reads, per file name: the file row (but its id, path, mtime, time of indexing),
    segments, passages with their words and FTS5 terms, and the float16 vector of each unit (sentence)
    with the passage that holds it."""
    import sqlite3

    import numpy as np

    con = sqlite3.connect(folder / "index.sqlite")
    out = {}
    rows = con.execute("SELECT id, path, content_hash, size, duration_s, language, transcript_source, recogniser, "
                       "n_passages FROM files").fetchall()
    for fid, path, *row in rows:
        segs = con.execute("SELECT start_s, end_s, text, language FROM segments WHERE file_id=? ORDER BY id",
                           (fid,)).fetchall()
        ps = con.execute("SELECT id, unit_lo, unit_hi, start_s, end_s, language, text, words, lex, py FROM passages "
                         "WHERE file_id=? ORDER BY id", (fid,)).fetchall()
        fts = con.execute("SELECT count(*) FROM passages_fts WHERE rowid IN (SELECT id FROM passages WHERE file_id=?)",
                          (fid,)).fetchone()[0]
        order = {p[0]: k for k, p in enumerate(ps)}  # a unit's vector belongs to one passage of the file
        units = con.execute("SELECT passage_id, unit, vec FROM unit_vectors WHERE file_id=? ORDER BY unit",
                            (fid,)).fetchall()
        vecs = np.stack([np.frombuffer(v, np.float16) for _p, _u, v in units]) if units else np.zeros((0, 384))
        out[os.path.basename(path)] = {"file": tuple(row), "segments": segs, "passages": [p[1:] for p in ps],
                                       "fts": fts, "units": [(order[p], u) for p, u, _v in units],
                                       "vectors": vecs.astype(np.float32)}
    meta = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('recogniser', 'embedder')").fetchall())
    con.close()
    return {"files": out, "meta": meta}


def _same_index(got: dict, want: dict, names: dict | None = None) -> None:
    """Equal searchable content; vectors within float16 rounding (an actor may embed on other threads)."""
    import numpy as np

    assert got["meta"] == want["meta"]
    names = names or {k: k for k in got["files"]}
    assert sorted(got["files"]) == sorted(names)
    for name, g in got["files"].items():
        w = want["files"][names[name]]
        assert (g["file"], g["segments"], g["passages"], g["fts"], g["units"]) == (
            w["file"], w["segments"], w["passages"], w["fts"], w["units"]), name
        assert g["vectors"].shape == w["vectors"].shape and np.allclose(g["vectors"], w["vectors"], atol=2e-3), name


@pytest.fixture(scope="module")
def index_sources(tmp_path_factory, data_dir):
    """The four clips, one more with an SRT sidecar (embedded, not recognised), and a corrupt file."""
    src = tmp_path_factory.mktemp("isrc")
    for name in CLIPS:
        shutil.copy(data_dir / name, src / name)
    shutil.copy(data_dir / "jfk.wav", src / "subtitled.wav")
    (src / "subtitled.srt").write_text("1\n00:00:00,300 --> 00:00:02,100\nAnd so, my fellow Americans,\n\n"
                                       "2\n00:00:03,000 --> 00:00:08,000\n问问你能为你的国家做什么\n")
    (src / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt nonsense")
    return src


@pytest.fixture(scope="module")
def plain_index(index_sources, tmp_path_factory):
    from tingshuo.search import Index

    lib = Index(tmp_path_factory.mktemp("plainidx") / "lib", model=MODEL)
    report = lib.add([index_sources])
    lib.close()
    assert report.added == 5 and len(report.failed) == 1
    return _index_contents(lib.folder)


def test_cli_index_on_ray_equals_the_plain_index_and_ships_no_unchanged_file(cluster, index_sources, plain_index,
                                                                        tmp_path):
    env = {**os.environ, **cluster.env}
    env.pop("RAY_ADDRESS", None)
    src = tmp_path / "src"
    shutil.copytree(index_sources, src)
    lib = tmp_path / "lib"
    args = ["index", src, "--index", lib, "-m", MODEL, "--ray-address", cluster.address]
    first = cli(*args, env=env)
    assert first.returncode == 1, first.stderr  # the broken file, in one line
    errs = [x for x in first.stderr.splitlines() if x.startswith("error:")]
    assert len(errs) == 1 and "broken.wav" in errs[0] and "Traceback" not in first.stderr
    assert "5 added" in first.stderr and "on Ray: " in first.stderr, first.stderr[-800:]
    _same_index(_index_contents(lib), plain_index)
    # Unchanged files never leave the driver: no Ray at all.
    (src / "broken.wav").unlink()
    again = cli(*args, env=env)
    assert again.returncode == 0 and "5 unchanged" in again.stderr and "on Ray" not in again.stderr, again.stderr


def test_a_killed_index_driver_resumes_with_only_the_rest(cluster, clips, plain_index, tmp_path, data_dir):
    import sqlite3

    folder, names = clips
    lib = tmp_path / "lib"
    env = {**os.environ, **cluster.env}
    env.pop("RAY_ADDRESS", None)
    args = ["index", folder, "--index", lib, "-m", MODEL, "--ray-address", cluster.address, "--ray-batch", "1", "-q"]
    proc = subprocess.Popen([sys.executable, "-m", "tingshuo", *map(str, args)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def committed() -> int:
        from tingshuo.search.store import files_committed

        return files_committed(lib, timeout_s=5)

    try:
        deadline = time.monotonic() + 180
        while committed() < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    before = committed()
    assert 3 <= before < N_CLIPS, f"{before} files indexed before the kill"
    # Meanwhile one indexed file is deleted and another gets new content: the rerun drops the first
    # before shipping anything, redoes the second and ships only what is not in the index.
    con = sqlite3.connect(lib / "index.sqlite")
    done = sorted(os.path.basename(p) for (p,) in con.execute("SELECT path FROM files"))
    con.close()
    (folder / done[0]).unlink()
    shutil.copy(folder / done[1], tmp_path / "keep.wav")
    new_source = next(c for c in CLIPS if c != names[done[1][:-4]])
    shutil.copy(data_dir / new_source, folder / done[1])
    try:
        again = cli(*args[:-1], env=env)
    finally:
        shutil.copy(data_dir / names[done[0][:-4]], folder / done[0])  # the module's clips, as they were
        shutil.copy(tmp_path / "keep.wav", folder / done[1])
    assert again.returncode == 0, again.stderr
    summary = [x for x in again.stderr.splitlines() if " unchanged" in x][0]
    n = {w: int(c) for c, w in (part.split()[:2] for part in summary.split(" in ")[0].split(", "))}
    # the deleted file's entry is dropped, or taken over by a not yet indexed copy of the same clip
    moved = n.get("moved", 0)
    assert n.get("removed", 0) + moved == 1 and n["updated"] == 1 and n["unchanged"] == before - 2, summary
    assert n["added"] + moved == N_CLIPS - before and "on Ray: " in again.stderr, summary
    got = _index_contents(lib)
    assert sorted(got["files"]) == sorted(f"clip{k:02d}.wav" for k in range(N_CLIPS) if f"clip{k:02d}.wav" != done[0])
    names = {**names, done[1][:-4]: new_source}
    for name, g in got["files"].items():
        w = plain_index["files"][names[name[:-4]]]
        assert g["passages"] == w["passages"] and g["segments"] == w["segments"], name


# ---------------------------------------------------------------------------------------------- align --ray

def test_cli_align_on_ray_writes_the_plain_runs_files(cluster, data_dir, tmp_path):
    """align MANIFEST --segment --ray: each pair aligned and its clips checked on the cluster's actors,
    the alignment files, clips, manifest and summary written here — byte for byte the plain run's;
    a pair without text and a corrupt recording fail alone, with the same lines."""
    rows = [json.loads(x) for x in (data_dir / "manifest.jsonl").read_text().splitlines()]
    rows = [{**r, "audio": str(data_dir / r["audio"])} for r in rows
            if r["audio"] in ("jfk.wav", "cathy_a0001.wav", "cathy_a0005.wav")]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt nonsense")
    rows += [{"audio": str(broken), "text": "nothing to hear"}, {"audio": str(data_dir / "noise_cafe.wav")}]
    manifest = tmp_path / "pairs.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {**os.environ, **cluster.env}
    env.pop("RAY_ADDRESS", None)
    common = ["align", manifest, "--model", MODEL, "--format", "json,srt", "--segment", "--min-clip-s", "1"]
    plain = cli(*common, "-o", tmp_path / "plain", env=env)
    ray = cli(*common, "-o", tmp_path / "ray", "--ray-address", cluster.address, "--ray-batch", "2", env=env)
    assert plain.returncode == ray.returncode == 1, ray.stderr
    errors = lambda r: sorted(x for x in r.stderr.splitlines() if x.startswith("error:"))  # noqa: E731
    assert errors(plain) == errors(ray) and len(errors(ray)) == 2, ray.stderr
    assert "Traceback" not in ray.stderr and "on Ray: " in ray.stderr, ray.stderr[-800:]
    files = sorted(p.relative_to(tmp_path / "plain") for p in (tmp_path / "plain").rglob("*") if p.is_file())
    assert len([f for f in files if f.parent.name == "clips"]) >= 3 and len(files) >= 3 * 2 + 3 + 2
    assert files == sorted(p.relative_to(tmp_path / "ray") for p in (tmp_path / "ray").rglob("*") if p.is_file())
    for rel in files:
        assert (tmp_path / "plain" / rel).read_bytes() == (tmp_path / "ray" / rel).read_bytes(), rel
