import subprocess
import sys


def test_import_is_fast_and_light():
    code = ("import sys, time; t = time.perf_counter(); import tingshuo; dt = time.perf_counter() - t; "
            "heavy = [m for m in ('av', 'ctranslate2', 'onnxruntime', 'torch', 'faster_whisper', 'fastapi', 'soundfile') "
            "if m in sys.modules]; print(dt); print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert float(out[0]) < 0.5
    assert out[1] == "", f"import tingshuo loaded heavy modules: {out[1]}"


def test_public_api_names():
    import tingshuo

    for name in ("transcribe", "load_audio", "load", "available", "Transcript", "Segment", "TingshuoError"):
        assert hasattr(tingshuo, name)
    assert "silero" in tingshuo.available("vad")
    assert "whisper" in tingshuo.available("asr")
