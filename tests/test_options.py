import argparse

import pytest

from tingshuo.asr.base import TranscribeOptions
from tingshuo.errors import InputError
from tingshuo.options import add_arguments, describe, from_mapping, from_namespace


def test_from_mapping_parses_and_validates():
    o = from_mapping(TranscribeOptions, {"beam_size": "3", "language": "auto", "word-timestamps": "true"})
    assert o.beam_size == 3 and o.language is None and o.word_timestamps is True
    with pytest.raises(InputError, match="Unknown option 'beam'"):
        from_mapping(TranscribeOptions, {"beam": 3})
    with pytest.raises(InputError, match="must be one of"):
        from_mapping(TranscribeOptions, {"task": "summarise"})
    with pytest.raises(InputError, match="expects int"):
        from_mapping(TranscribeOptions, {"beam_size": "five"})
    with pytest.raises(InputError, match="at least 1"):
        from_mapping(TranscribeOptions, {"beam_size": 0})


def test_cli_flags_derive_from_the_dataclass():
    p = argparse.ArgumentParser()
    add_arguments(p, TranscribeOptions)
    ns = p.parse_args(["--beam-size", "2", "--no-vad", "--language", "zh"])
    o = from_namespace(TranscribeOptions, ns)
    assert (o.beam_size, o.vad, o.language, o.batch_size) == (2, False, "zh", TranscribeOptions().batch_size)
    assert "default: 5" in p.format_help()
    assert {d["name"] for d in describe(TranscribeOptions)} >= {"language", "beam_size", "word_timestamps"}
