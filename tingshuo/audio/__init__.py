"""Audio in and out, resampling, voice activity detection."""

from .io import SAMPLE_RATE, AudioInfo, encode_audio, iter_audio, load_audio, probe, save_audio, to_audio

__all__ = ["SAMPLE_RATE", "AudioInfo", "encode_audio", "iter_audio", "load_audio", "probe",
           "save_audio", "to_audio"]
