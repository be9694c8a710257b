"""`tingshuo serve` flags: derived from ServerConfig, examples in --help, bad values as one line."""

from __future__ import annotations

import pytest

from tingshuo.cli import main


def test_help_lists_flags_and_examples(capsys):
    with pytest.raises(SystemExit) as info:
        main(["serve", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--host", "--port", "--api-key", "--cors", "--max-upload-mb", "--max-audio-s", "--workers",
                 "--queue-size", "--request-timeout-s", "--keep-uploads"):
        assert flag in out
    assert "default: 127.0.0.1" in out and "examples:" in out and "/v1/audio/transcriptions" in out


@pytest.mark.parametrize("args, words", [(["--port", "99999"], "port must be between"),
                                         (["--max-upload-mb", "0"], "max_upload_mb must be positive"),
                                         (["--workers", "many"], "expects int")])
def test_bad_values_fail_in_one_line(capsys, args, words):
    assert main(["serve", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and "Traceback" not in err


def test_config_is_the_single_source_of_defaults():
    from tingshuo.server.config import ServerConfig

    cfg = ServerConfig()
    assert cfg.host == "127.0.0.1" and cfg.api_key is None and cfg.keep_uploads is None
    assert cfg.max_upload_bytes == 25 * 2**20
