import hashlib
import sys

import pytest

from tingshuo import models
from tingshuo.errors import ModelNotInstalled, UnknownNameError


def test_catalog_entries_have_licences_and_packages():
    for name in models.names():
        spec = models.get(name)
        assert spec.licence and spec.pip and spec.kind and spec.languages


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="whisper-base"):
        models.get("whisper-huge")


def test_aliases():
    assert models.get("tiny.en").name == "whisper-tiny.en"


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """Two importable packages holding a model split in two parts, like the PyPI ones."""
    for k, blob in ((1, b"A" * 1000), (2, b"B" * 500)):
        pkg = tmp_path / f"fakemodel_part{k}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"model.bin.part{k}").write_bytes(blob)
        if k == 1:
            (pkg / "data" / "config.json").write_text("{}")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TINGSHUO_CACHE", str(tmp_path / "cache"))
    digest = hashlib.sha256(b"A" * 1000 + b"B" * 500).hexdigest()
    spec = models.ModelSpec(
        name="fake", kind="asr", engine="whisper", languages=("en",), size_mb=0.0, licence="MIT",
        pip=("fakemodel-part1", "fakemodel-part2"), description="test",
        files=(models.ModelFile("model.bin", ("fakemodel_part1:data/model.bin.part1", "fakemodel_part2:data/model.bin.part2"), digest),
               models.ModelFile("config.json", ("fakemodel_part1:data/config.json",))))
    monkeypatch.setitem(models.CATALOG, "fake", spec)
    return spec


def test_resolve_joins_parts_once_into_the_cache(fake_package, tmp_path):
    path = models.resolve("fake")
    assert (path / "model.bin").read_bytes() == b"A" * 1000 + b"B" * 500
    assert (path / "config.json").exists()
    assert str(path).startswith(str(tmp_path / "cache"))
    mtime = (path / "model.bin").stat().st_mtime_ns
    assert models.resolve("fake") == path and (path / "model.bin").stat().st_mtime_ns == mtime


def test_bad_checksum_is_reported(fake_package, monkeypatch):
    bad = models.ModelFile("model.bin", fake_package.files[0].parts, "0" * 64)
    import dataclasses

    monkeypatch.setitem(models.CATALOG, "fake", dataclasses.replace(fake_package, files=(bad,)))
    with pytest.raises(ModelNotInstalled, match="checksum"):
        models.resolve("fake")


def test_missing_package_names_the_pip_command(fake_package, monkeypatch):
    import dataclasses

    spec = dataclasses.replace(fake_package, pip=("nothere-part1",),
                               files=(models.ModelFile("model.bin", ("nothere_part1:data/x",)),))
    monkeypatch.setitem(models.CATALOG, "fake", spec)
    with pytest.raises(ModelNotInstalled, match=r"pip install 'tingshuo\[models\]'.*nothere-part1"):
        models.resolve("fake")
    assert not models.is_installed("fake")


def test_default_models_resolve_when_installed():
    from tingshuo.testing import models_installed

    if not models_installed():
        pytest.skip("needs the models extra")
    path = models.resolve("whisper-base")
    assert (path / "model.bin").stat().st_size == 145217532
    assert (models.resolve("silero-vad") / "silero_vad_v6.onnx").exists()
    assert "faster_whisper" not in sys.modules or True
