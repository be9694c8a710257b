"""The multimodal quality classifier learns grades and defects from a small labelled set."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch", reason="training needs the train extra: pip install 'tingshuo[train]'")

from tingshuo.errors import ManifestError  # noqa: E402
from tingshuo.testing.defects import make_labelled_set  # noqa: E402
from tingshuo.train.config import load_config  # noqa: E402
from tingshuo.train.quality import load_labels, predict_quality, train_quality  # noqa: E402

CLIPS = ("cathy_a0001.wav", "cathy_a0005.wav", "zh_aishell_S0724W0121.wav")


@pytest.fixture(scope="module")
def labels(tmp_path_factory, data_dir, references):
    clips = [(str(data_dir / n), references[n]["text"], references[n]["lang"]) for n in CLIPS]
    return make_labelled_set(tmp_path_factory.mktemp("labels"), clips)


def test_fusion_classifier_fits_grades_and_defects(labels, tmp_path):
    torch.set_num_threads(1)
    cfg = load_config(None, kind="quality", train=str(labels), valid=str(labels), out=str(tmp_path / "q"),
                      epochs=40, lr=2e-3, warmup_steps=5, schedule="constant", threads=1, batch_s=40.0,
                      log_every_steps=5, valid_every_epochs=10,
                      model={"d_model": 48, "heads": 4, "audio_layers": 1, "text_layers": 1, "dropout": 0.0})
    summary = train_quality(cfg, progress=False)
    assert summary["best_key"] == "grade_acc" and summary["best"] >= 0.9, summary
    preds = predict_quality(tmp_path / "q", labels)
    rows = [json.loads(line) for line in open(labels)]
    assert len(preds) == len(rows) == 12
    hits = sum(p["grade"] == r["expected_grade"] for p, r in zip(preds, rows))
    assert hits >= 11
    assert {p["grade"] for p in preds} == {"high", "medium", "low"}
    assert all(set(p["defects"]) <= {"noise", "clipping", "silence"} for p in preds)
    assert (tmp_path / "q" / "learning_curves.png").exists()


def test_bad_grade_names_the_line(labels, tmp_path):
    rows = [json.loads(line) for line in open(labels)]
    rows[2]["expected_grade"] = "excellent"
    for r in rows:
        r["audio"] = str(labels.parent / r["audio"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ManifestError, match="line 3: 'expected_grade' must be one of high, medium, low"):
        load_labels(bad)
