"""Tests for gru_core.device: CUDA, else MPS, else CPU, and clear messages for a missing device."""
import pytest
import torch

from gru_core.device import device_report, resolve_device
from gru_core.errors import DataError


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(DataError, match=r"'cuda' was requested.*found: CPU.*'cpu'"):
        resolve_device("cuda")
    with pytest.raises(DataError, match="mps"):
        resolve_device("mps")
    with pytest.raises(DataError, match="Unknown device"):
        resolve_device("gpu")
    report = device_report()
    assert report["cuda"] is False and report["mps"] is False and report["auto"] == "cpu"
