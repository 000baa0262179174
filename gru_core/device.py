"""Where training runs: CUDA, else Apple MPS, else CPU -- what was found, and the choice.

``resolve_device("auto")`` is what the trainer uses; ``device_report()`` is what the app shows.
"""
from __future__ import annotations

import torch

from gru_core.errors import DataError

DEVICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def device_report() -> dict[str, bool | str]:
    """What accelerators this process can see.

    Returns
    -------
    dict
        ``cuda`` (bool), ``cuda_name`` (str, "" without CUDA), ``mps`` (bool), ``auto`` (the
        device ``"auto"`` resolves to), ``torch`` (version) and ``threads`` (current torch CPU
        threads, as a string).
    """
    cuda = torch.cuda.is_available()
    mps = _mps_available()
    return {
        "cuda": cuda,
        "cuda_name": torch.cuda.get_device_name(0) if cuda else "",
        "mps": mps,
        "auto": "cuda" if cuda else "mps" if mps else "cpu",
        "torch": torch.__version__,
        "threads": str(torch.get_num_threads()),
    }


def resolve_device(pref: str = "auto") -> torch.device:
    """Turn a device preference into a ``torch.device``.

    ``"auto"`` picks CUDA, else MPS (Apple GPU), else CPU. An explicit device that is not
    available raises :class:`DataError` naming what was found.
    """
    if pref not in DEVICES:
        raise DataError(f"Unknown device {pref!r}: choose one of {', '.join(DEVICES)}.")
    cuda, mps = torch.cuda.is_available(), _mps_available()
    if pref == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (pref == "cuda" and not cuda) or (pref == "mps" and not mps):
        found = ", ".join(["CPU"] + (["CUDA"] if cuda else []) + (["MPS"] if mps else []))
        raise DataError(f"Device {pref!r} was requested but is not available on this machine "
                        f"(found: {found}). Choose 'auto' or 'cpu'.")
    return torch.device(pref)
