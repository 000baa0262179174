"""Tests for gru_core.model: shapes, cells, parameter counts and configuration errors."""
import pytest
import torch

from gru_core.errors import DataError
from gru_core.model import CELLS, Forecaster, ModelConfig


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_forward_shape_every_cell(cell, bidirectional):
    cfg = ModelConfig(input_size=3, hidden_size=8, num_layers=2, horizon=5, cell=cell,
                      bidirectional=bidirectional)
    model = Forecaster(cfg)
    y = model(torch.randn(4, 17, 3))
    assert y.shape == (4, 5)
    assert isinstance(model.rnn, CELLS[cell].module)
    assert model.rnn.batch_first


def test_parameter_count_matches_formula():
    # GRU layer: 3 * (H*I + H*H + 2H); head: (H -> horizon)
    I, H, L, horizon = 2, 16, 2, 12
    model = Forecaster(ModelConfig(input_size=I, hidden_size=H, num_layers=L, horizon=horizon))
    gru = 3 * (H * I + H * H + 2 * H) + 3 * (H * H + H * H + 2 * H)
    head = H * horizon + horizon
    assert model.n_params() == gru + head


def test_unidirectional_summary_is_last_output():
    model = Forecaster(ModelConfig(input_size=1, hidden_size=6, num_layers=2, horizon=3))
    x = torch.randn(2, 9, 1)
    out, _ = model.rnn(x)
    assert torch.allclose(model.encode(x), out[:, -1])


def test_bidirectional_summary_uses_full_backward_pass():
    model = Forecaster(ModelConfig(input_size=1, hidden_size=6, num_layers=1, horizon=3,
                                   bidirectional=True))
    x = torch.randn(2, 9, 1)
    out, _ = model.rnn(x)  # (B, T, 2H)
    summary = model.encode(x)
    assert torch.allclose(summary[:, :6], out[:, -1, :6])  # forward after the last step
    assert torch.allclose(summary[:, 6:], out[:, 0, 6:])   # backward after reading back to step 0


@pytest.mark.parametrize("kwargs, phrase", [
    (dict(cell="transformer"), "Unknown cell type 'transformer'"),
    (dict(hidden_size=0), "hidden_size must be a whole number from 1 to 4096"),
    (dict(num_layers=40), "num_layers must be a whole number from 1 to 16"),
    (dict(dropout=1.0), "dropout must be in [0, 1)"),
])
def test_bad_config_raises_dataerror(kwargs, phrase):
    with pytest.raises(DataError) as err:
        Forecaster(ModelConfig(**kwargs))
    assert phrase in str(err.value)


@pytest.mark.parametrize("cell", CELLS)
def test_registry_blocks_match_the_weight_layout(cell):
    """A cell's ``blocks`` is the number of stacked weight blocks torch allocates."""
    model = Forecaster(ModelConfig(input_size=3, hidden_size=5, num_layers=1, horizon=2, cell=cell))
    assert model.rnn.weight_ih_l0.shape == (CELLS[cell].blocks * 5, 3)
    assert len(CELLS[cell].gate_names) in (0, CELLS[cell].blocks)


@pytest.mark.parametrize("cell", CELLS)
def test_flops_per_window_counts_every_weight_once_per_step(cell):
    """2 x (recurrent weights x lookback + head weights): independent of the formula in model.py."""
    cfg = ModelConfig(input_size=3, hidden_size=7, num_layers=2, horizon=4, cell=cell,
                      bidirectional=True)
    model = Forecaster(cfg)
    rec = sum(p.numel() for n, p in model.rnn.named_parameters() if n.startswith("weight"))
    head = model.head.weight.numel()
    assert cfg.flops_per_window(11) == 2.0 * (11 * rec + head)
