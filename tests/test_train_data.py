"""Training data: features (numpy == torch), augmentations keep shapes and lengths, bad manifests
fail naming the line, configs load from YAML, the tokenizers round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs the train extra: pip install 'tingshuo[train]'")

from tingshuo.audio.features import log_mel, n_frames  # noqa: E402
from tingshuo.audio.io import load_audio  # noqa: E402
from tingshuo.errors import InputError, ManifestError  # noqa: E402
from tingshuo.train.augment import WaveAugmenter, add_noise, spec_augment, speed_perturb  # noqa: E402
from tingshuo.train.config import AugmentConfig, load_config  # noqa: E402
from tingshuo.train.data import (BucketSampler, fbank_torch, load_utterances, pad_features,  # noqa: E402
                                 frames_after_subsampling)
from tingshuo.train.tokenizer import BPETokenizer, CharTokenizer, normalize  # noqa: E402


@pytest.fixture(scope="module")
def cathy(data_dir):
    return load_audio(data_dir / "cathy_a0001.wav").samples


def test_numpy_and_torch_features_agree(cathy):
    a = log_mel(cathy)
    b = fbank_torch(torch.from_numpy(cathy)).numpy()
    assert a.shape == b.shape == (n_frames(cathy.size), 80)
    assert np.abs(a - b).max() < 1e-3
    batch = fbank_torch(torch.from_numpy(np.stack([cathy, cathy[::-1].copy()])))
    assert batch.shape == (2,) + a.shape


def test_speed_perturbation_changes_length_by_the_factor(cathy):
    for factor in (0.9, 1.0, 1.1):
        out = speed_perturb(cathy, factor)
        assert abs(out.size - cathy.size / factor) <= 2
        assert out.dtype == np.float32


def test_noise_is_added_at_the_requested_snr(cathy, data_dir):
    noise = load_audio(data_dir / "noise_cafe.wav").samples
    rng = np.random.default_rng(0)
    mixed = add_noise(cathy, noise, 10.0, rng)
    assert mixed.shape == cathy.shape
    added = mixed - cathy
    snr = 10 * np.log10(np.mean(cathy.astype(np.float64) ** 2) / np.mean(added.astype(np.float64) ** 2))
    assert abs(snr - 10.0) < 0.01


def test_wave_augmenter_with_noise_manifest_and_gain(cathy, data_dir, tmp_path):
    m = tmp_path / "noise.jsonl"
    m.write_text(json.dumps({"audio": str(data_dir / "noise_cafe.wav")}) + "\n")
    cfg = AugmentConfig(speed_perturb=True, speeds=(1.1,), noise_manifest=str(m), noise_prob=1.0, gain=True)
    out = WaveAugmenter(cfg)(cathy, np.random.default_rng(1))
    assert abs(out.size - cathy.size / 1.1) <= 2 and np.abs(out).max() <= 1.0
    assert not np.allclose(out[:1000], speed_perturb(cathy, 1.1)[:1000])


def test_spec_augment_masks_stay_inside_real_frames():
    feats = [torch.ones(120, 80), torch.ones(60, 80)]
    x, lengths, mask = pad_features(feats, 80)
    x[1, 60:] = 0.0
    cfg = AugmentConfig(freq_masks=2, freq_mask_width=20, time_masks=3, time_mask_ratio=0.2)
    out = spec_augment(x.clone(), lengths, cfg, np.random.default_rng(3))
    assert out.shape == x.shape
    assert (out[1, 60:] == 0).all()  # padding untouched
    assert (out == 0).sum() > (x == 0).sum()  # something was masked
    assert mask.tolist()[1][:60] == [True] * 60 and not any(mask.tolist()[1][60:])
    off = spec_augment(x.clone(), lengths, AugmentConfig(spec_augment=False), np.random.default_rng(3))
    assert torch.equal(off, x)


def test_subsampled_lengths_match_the_model():
    from tingshuo.train.config import ASRModelConfig
    from tingshuo.train.models.ctc_attention import CTCAttentionModel

    for factor in (4, 6, 8):
        model = CTCAttentionModel(ASRModelConfig(d_model=32, heads=2, encoder_layers=1, decoder_layers=1,
                                                 subsampling=factor), vocab_size=10).eval()
        x = torch.randn(2, 200, 80)
        lengths = torch.tensor([200, 131])
        lp, out = model.ctc_log_probs(x, lengths)
        assert out.tolist() == [frames_after_subsampling(200, factor), frames_after_subsampling(131, factor)]
        assert lp.shape[1] == out[0]


def test_bucket_sampler_covers_every_utterance_once_per_epoch():
    durations = list(np.random.default_rng(0).uniform(1, 10, 50))
    s = BucketSampler(durations, batch_s=30, seed=7)
    for epoch in (0, 1):
        batches = s.batches(epoch)
        assert sorted(i for b in batches for i in b) == list(range(50))
        assert all(max(durations[i] for i in b) * len(b) <= 30 or len(b) == 1 for b in batches)
    assert s.batches(0) == BucketSampler(durations, batch_s=30, seed=7).batches(0)
    assert s.batches(0) != s.batches(1)


def _manifest(tmp_path, rows):
    p = tmp_path / "m.jsonl"
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return p


def test_missing_audio_names_the_line(tmp_path, data_dir):
    p = _manifest(tmp_path, [{"audio": str(data_dir / "cathy_a0005.wav"), "text": "will we"},
                             {"audio": "nope/missing.wav", "text": "hello"}])
    with pytest.raises(ManifestError, match=r"line 2: audio file .*missing\.wav not found"):
        load_utterances(p, None)


def test_empty_text_names_the_line(tmp_path, data_dir):
    p = _manifest(tmp_path, [{"audio": str(data_dir / "cathy_a0005.wav"), "text": "will we"},
                             {"audio": str(data_dir / "cathy_a0001.wav"), "text": " ,. "}])
    with pytest.raises(ManifestError, match=r"line 2: the text is empty"):
        load_utterances(p, None)


def test_unknown_character_names_the_line(tmp_path, data_dir):
    tok = CharTokenizer.build(["will we ever forget it"], "en")
    p = _manifest(tmp_path, [{"audio": str(data_dir / "cathy_a0005.wav"), "text": "will we"},
                             {"audio": str(data_dir / "cathy_a0005.wav"), "text": "will we"},
                             {"audio": str(data_dir / "cathy_a0001.wav"), "text": "zebra"}])
    with pytest.raises(ManifestError, match=r"line 3: character 'z' is not in the model's vocabulary"):
        load_utterances(p, tok.encode)


def test_cli_reports_a_bad_manifest_in_one_line(tmp_path, data_dir, capsys):
    from tingshuo.cli import main

    p = _manifest(tmp_path, [{"audio": str(data_dir / "cathy_a0005.wav"), "text": ""}])
    code = main(["train", "asr", "--train", str(p), "--valid", str(p), "--out", str(tmp_path / "run"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("error: ") and "line 1: the text is empty" in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_config_from_yaml_checks_keys_and_resolves_paths(tmp_path):
    y = tmp_path / "conf.yaml"
    y.write_text("train: data/train.jsonl\nvalid: data/valid.jsonl\nepochs: 3\n"
                 "model: {d_model: 64, heads: 2}\naugment: {speeds: [0.9, 1.1]}\n")
    cfg = load_config(y, out="runs/x")
    assert cfg.train == str(tmp_path / "data" / "train.jsonl") and cfg.epochs == 3
    assert cfg.model.d_model == 64 and cfg.augment.speeds == (0.9, 1.1)
    y.write_text("model: {d_modle: 64}\n")
    with pytest.raises(InputError, match="Unknown option 'd_modle'"):
        load_config(y)
    with pytest.raises(InputError, match="multiple of heads"):
        load_config(None, model={"d_model": 30, "heads": 4})


def test_tokenizers_round_trip_english_and_mandarin(tmp_path):
    assert normalize("Philip Steels, etc.", "en") == "philip steels etc"
    assert normalize("“Don't”, he said.", "en") == "don't he said"
    assert normalize("欢迎大家，来体验！", "zh") == "欢迎大家来体验"
    zh = CharTokenizer.build(["欢迎大家来体验达摩院推出的语音识别模型"], "zh")
    assert zh.decode(zh.encode("欢迎大家")) == "欢迎大家"
    texts = ["will we ever forget it", "author of the danger trail", "one two three"] * 5
    bpe = BPETokenizer.train(texts, "en", tmp_path, vocab_size=40)
    ids = bpe.encode("will we ever forget it")
    assert 0 not in ids and bpe.decode(ids) == "will we ever forget it"
    assert len(ids) < len("will we ever forget it")


def test_train_cli_help_and_one_line_errors(tmp_path, capsys):
    from tingshuo.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["train", "asr", "--help"])
    assert exc.value.code == 0
    assert "tingshuo train decode" in capsys.readouterr().out
    assert main(["train", "export", str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err.strip() == f"error: Run directory {tmp_path / 'nope'} does not exist."
    assert main(["train", "asr", "--out", str(tmp_path / "r"), "--resume", "-q"]) == 1
    assert "Give both a training and a validation manifest" in capsys.readouterr().err


def test_ctc_prefix_beam_search_matches_brute_force():
    import itertools
    import math

    from tingshuo.train.models.ctc_attention import collapse_ctc, ctc_prefix_beam_search

    g = torch.Generator().manual_seed(0)
    lp = torch.log_softmax(torch.randn(4, 3, generator=g) * 2, -1)
    totals: dict[tuple, float] = {}
    for path in itertools.product(range(3), repeat=4):  # every alignment
        p = math.exp(sum(float(lp[t, k]) for t, k in enumerate(path)))
        key = tuple(collapse_ctc(list(path)))
        totals[key] = totals.get(key, 0.0) + p
    nbest = ctc_prefix_beam_search(lp, beam=27)
    best = max(totals, key=totals.get)
    assert tuple(nbest[0][0]) == best
    assert abs(math.exp(nbest[0][1]) - totals[best]) < 1e-6
