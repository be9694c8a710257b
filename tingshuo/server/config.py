"""How the server runs. CLI flags of ``tingshuo serve`` derive from these fields (stated once)."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import opt


@dataclass(frozen=True)
class ServerConfig:
    """Server settings; every default is stated here once."""

    host: str = opt("127.0.0.1", "address to bind (0.0.0.0 exposes the server to the network)")
    port: int = opt(8000, "TCP port (0 picks a free one)")
    api_key: str | None = opt(None, "require 'Authorization: Bearer KEY' on the API (env TINGSHUO_API_KEY)",
                              metavar="KEY", shown="none: no key needed")
    cors: tuple[str, ...] = opt((), "origins allowed to call the API from a browser, comma-separated, or *",
                                metavar="ORIGINS", shown="none")
    max_upload_mb: float = opt(25.0, "largest upload accepted, in MB (413 above)", metavar="MB")
    max_audio_s: float = opt(1800.0, "longest audio accepted, in seconds (413 above)", metavar="SECONDS")
    max_speech_s: float = opt(900.0, "longest speech /v1/audio/speech makes for one request, in seconds "
                              "(413 above: about 4096 characters of Mandarin or 15 minutes)", metavar="SECONDS")
    workers: int = opt(4, "worker threads for decoding, synthesis and inspection (models are shared)")
    decode_workers: int = opt(2, "processes that decode uploads; a decoder crash fails that request only")
    queue_size: int = opt(64, "requests waiting or running at once before new ones get 429")
    batch_size: int = opt(16, "ASR requests decoded together in one dynamic batch")
    batch_window_ms: float = opt(10.0, "how long the ASR batcher waits to collect requests into a batch",
                                 metavar="MS")
    request_timeout_s: float = opt(300.0, "longest a request's recognition may run before it gets 504", metavar="SECONDS")
    model: str | None = opt(None, "speech recognition model (catalog name or directory)", metavar="NAME",
                            shown="the catalog default")
    kb: str = opt("bank", "knowledge base for /v1/chat (.yaml, .csv, .md, or 'bank')", metavar="FILE")
    keep_uploads: str | None = opt(None, "copy each upload into this directory (off: nothing is kept)",
                                   metavar="DIR", shown="off")
    preload: bool = opt(True, "load the models at start-up instead of on the first request")
    cpu_threads: int = opt(0, "CPU threads for the recogniser (0: all cores)")
    search_index: str | None = opt(None, "index folder for /v1/search and /v1/index (made on the first upload)",
                                   metavar="LIB", shown="off: the search endpoints answer 404")
    index_paths: bool = opt(False, "let POST /v1/index read paths on this machine (not only uploads)")

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {self.port}.")
        for name in ("max_upload_mb", "max_audio_s", "max_speech_s", "request_timeout_s"):
            if not getattr(self, name) > 0:  # NaN too
                raise ValueError(f"{name} must be positive.")
        for name in ("workers", "queue_size", "batch_size", "decode_workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1.")
        if not 0 <= self.batch_window_ms <= 10000:
            raise ValueError(f"batch_window_ms must be from 0 to 10000, not {self.batch_window_ms}.")
        if not 0 <= self.cpu_threads <= 1024:
            raise ValueError(f"cpu_threads must be from 0 (all cores) to 1024, not {self.cpu_threads}.")
        for name, top in (("workers", 1024), ("queue_size", 100000), ("batch_size", 512), ("decode_workers", 64)):
            if getattr(self, name) > top:
                raise ValueError(f"{name} must be at most {top}, not {getattr(self, name)}.")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
