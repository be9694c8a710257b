"""Training audio-text models with PyTorch (the ``train`` extra): joint CTC/attention ASR and a
multimodal quality classifier. Inference of exported models needs only onnxruntime
(``tingshuo.asr.onnx_ctc``).

    >>> from tingshuo.train.config import load_config
    >>> from tingshuo.train.asr import train_asr
    >>> train_asr(load_config("recipes/cathy-ctc/conf.yaml"))      # doctest: +SKIP
"""

INSTALL_HINT = "training needs PyTorch: pip install 'tingshuo[train]'"


def require_torch() -> None:
    """Raise ModelNotInstalled with the install command when torch is missing."""
    try:
        import torch  # noqa: F401
    except ImportError:
        from ..errors import ModelNotInstalled

        raise ModelNotInstalled(f"PyTorch is not installed; {INSTALL_HINT}.") from None
