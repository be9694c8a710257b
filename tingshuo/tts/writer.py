"""Write streamed audio to a file as it arrives: bounded memory for any length, atomic on success.

Same formats and codecs as ``tingshuo.audio.io.encode_audio`` (its ``FORMATS`` table): WAV and
FLAC through libsndfile, MP3/OGG(Opus)/M4A/AAC through PyAV. The file appears under its name
only when complete; an error or interrupt leaves nothing behind.

    >>> with AudioFileWriter("out/hello.mp3", 22050) as w:      # doctest: +SKIP
    ...     for chunk in synthesize_stream(text): w.write(chunk.samples)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..audio.io import FORMATS, format_for


class AudioFileWriter:
    def __init__(self, path: str | os.PathLike, sample_rate: int, fmt: str | None = None) -> None:
        self.path = Path(path)
        self.fmt = format_for(self.path, fmt)
        self.sample_rate = sample_rate
        self.n_samples = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name[:64]}.", suffix=".part", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._sf = self._av = None
        if self.fmt in ("wav", "flac"):
            import soundfile as sf

            self._sf = sf.SoundFile(str(self._tmp), "w", samplerate=sample_rate, channels=1,
                                    format=self.fmt.upper(), subtype="PCM_16")
        elif self.fmt == "pcm":
            self._raw = open(self._tmp, "wb")
        else:
            self._open_av()

    def _open_av(self) -> None:
        import av

        container_fmt, codec, sample_fmt = FORMATS[self.fmt]
        self._rate = self.sample_rate
        if codec == "libopus" and self._rate not in (48000, 24000, 16000, 12000, 8000):
            self._rate = 48000  # Opus takes only these rates
        self._av = av.open(str(self._tmp), mode="w", format=container_fmt)
        self._stream = self._av.add_stream(codec, rate=self._rate, layout="mono")
        self._resampler = av.AudioResampler(format=sample_fmt, layout="mono", rate=self._rate)

    def write(self, samples: np.ndarray) -> None:
        """Append float32 mono samples in [-1, 1] at ``sample_rate``."""
        x = np.clip(np.asarray(samples, np.float32), -1.0, 1.0)
        self.n_samples += x.size
        if self._sf is not None:
            try:
                self._sf.write(x)
            except RuntimeError as exc:  # libsndfile says only "System error." when the disk is full
                raise self._disk_error(exc) from None
        elif self._av is None:
            self._raw.write((x * 32767.0).astype("<i2").tobytes())
        else:
            self._encode(x)

    def _encode(self, x: np.ndarray) -> None:
        import av

        if self._rate != self.sample_rate:
            from ..audio.resample import resample

            x = resample(x, self.sample_rate, self._rate)
        for i in range(0, x.size, 4096):
            frame = av.AudioFrame.from_ndarray(x[i:i + 4096].reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = self._rate
            for f in self._resampler.resample(frame):
                for packet in self._stream.encode(f):
                    self._av.mux(packet)

    def _disk_error(self, exc: Exception) -> Exception:
        """``OSError(ENOSPC)`` naming the file when its disk is (nearly) full, else ``exc`` itself."""
        import errno
        import shutil

        try:
            full = shutil.disk_usage(self.path.parent).free < 1 << 20
        except OSError:
            full = False
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path)) if full else exc

    def close(self) -> Path:
        """Finish the file and move it into place."""
        if self._sf is not None:
            try:
                self._sf.close()
            except RuntimeError as exc:
                raise self._disk_error(exc) from None
        elif self._av is None:
            self._raw.close()
        else:
            for packet in self._stream.encode(None):
                self._av.mux(packet)
            self._av.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, 0o666 & ~umask)  # mkstemp makes it private; a finished file is like any other
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            if self._sf is not None:
                self._sf.close()
            elif self._av is None:
                self._raw.close()
            else:
                self._av.close()
        except Exception:  # closing a half-written file may fail; it is deleted anyway
            pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "AudioFileWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
