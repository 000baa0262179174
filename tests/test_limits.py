"""Tests for gru_core.limits: the parameter count against built models, the memory model against
the tensors autograd really saves, the limits and their fix-it messages, and the env overrides."""
import pytest
import torch
import torch.nn.functional as F

from gru_core.errors import DataError
from gru_core.limits import ACTIVATION_FLOATS, Limits, n_params
from gru_core.model import CELLS, Forecaster, ModelConfig

CONFIGS = [ModelConfig(input_size=c, hidden_size=u, num_layers=k, bidirectional=d, horizon=h, cell=cell)
           for cell in CELLS
           for c, u, k, d, h in [(1, 8, 1, False, 4), (3, 16, 2, True, 7), (2, 5, 3, False, 1)]]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.cell}-{c.hidden_size}x{c.num_layers}"
                         f"{'-bi' if c.bidirectional else ''}")
def test_param_count_is_exact(cfg):
    built = sum(p.numel() for p in Forecaster(cfg).parameters() if p.requires_grad)
    assert n_params(cfg) == built
    assert Limits().estimate(cfg).params == built


def saved_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes of the distinct storages autograd saves for backward (parameters excluded)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = F.mse_loss(model(x), torch.zeros(x.shape[0], model.cfg.horizon))
    loss.backward()
    return sum(seen.values())


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("U,K,L,B,D", [(16, 1, 32, 8, False), (32, 2, 48, 16, True)])
def test_memory_estimate_within_a_factor_of_1_6_of_autograd(cell, U, K, L, B, D):
    cfg = ModelConfig(input_size=2, hidden_size=U, num_layers=K, bidirectional=D, horizon=4, cell=cell)
    torch.manual_seed(0)
    model = Forecaster(cfg)
    x = torch.randn(B, L, 2)                                      # (B, L, C)
    measured = saved_bytes(model, x) + 6 * 4 * model.n_params() + x.numel() * 4
    est = Limits().estimate(cfg, lookback=L, batch_size=B).memory_bytes
    assert measured / 1.6 <= est <= measured * 1.6, (est, measured)


def test_estimate_grows_with_each_setting():
    lim, cfg = Limits(), ModelConfig(hidden_size=32, num_layers=1, horizon=4)
    base = lim.estimate(cfg, lookback=24, batch_size=32, n_windows=500, epochs=10)
    assert base.ok and base.window_epochs == 5000
    assert lim.estimate(cfg, 48, 32, 500, 10).step_work > base.step_work
    assert lim.estimate(cfg, 24, 64, 500, 10).memory_bytes > base.memory_bytes
    assert base.step_work == 24 * (n_params(cfg) * 32 + 750_000)
    assert [r["what"] for r in base.rows()] == ["parameters", "work per step (units)",
                                                "windows x epochs", "memory (estimate)"]
    assert all(r["within"] for r in base.rows())


def test_app_defaults_fit_and_the_reported_attacks_do_not():
    lim = Limits()
    default = ModelConfig(input_size=1, hidden_size=32, num_layers=1, horizon=12)
    assert lim.check(default, lookback=24, batch_size=32, n_windows=2000, epochs=60).ok
    # issue 11: the Train page's 102.8 M-parameter model with batch 1 and lookback 5,000
    train_max = ModelConfig(input_size=1, hidden_size=1024, num_layers=6, bidirectional=True, horizon=12)
    est = lim.estimate(train_max, lookback=5000, batch_size=1, n_windows=100, epochs=1)
    assert est.params > 100_000_000 and not est.ok
    assert len(est.problems()) == 3                              # params, step work, memory
    # the Gates share link /gates?hidden_size=4096&num_layers=16&bidirectional=true
    gates = ModelConfig(input_size=1, hidden_size=4096, num_layers=16, bidirectional=True, horizon=12)
    with pytest.raises(DataError, match="parameters, over the limit of 5,000,000.*hidden units"):
        lim.check(gates, what="The Gates page's model")
    # a tiny model with a huge lookback: few parameters but a slow step
    tiny = ModelConfig(input_size=1, hidden_size=8, num_layers=3, horizon=4)
    with pytest.raises(DataError, match="one training step.*lower the batch size, the lookback"):
        lim.check(tiny, lookback=5000, batch_size=4)
    with pytest.raises(DataError, match="windows x epochs.*lower the epochs"):
        lim.check(default, lookback=24, batch_size=32, n_windows=200_000, epochs=5000)


def test_memory_limit_message():
    lim = Limits(max_memory_bytes=10 * 2**20)
    cfg = ModelConfig(hidden_size=256, num_layers=2, horizon=4)
    with pytest.raises(DataError, match=r"about .* of memory, over the limit of 10.0 MiB.*GRU_LAB_MAX_"):
        lim.check(cfg, lookback=200, batch_size=256)


def test_from_env_overrides_and_refuses_nonsense():
    assert Limits.from_env({}) == Limits()
    big = Limits.from_env({"GRU_LAB_MAX_PARAMS": "2e8", "GRU_LAB_MAX_STEP_WORK": "1e11",
                           "GRU_LAB_MAX_WINDOW_EPOCHS": "1_000_000_000",
                           "GRU_LAB_MAX_MEMORY_BYTES": str(64 * 2**30), "UNRELATED": "x"})
    assert big == Limits(max_params=200_000_000, max_step_work=1e11,
                         max_window_epochs=1_000_000_000, max_memory_bytes=64 * 2**30)
    assert isinstance(big.max_params, int)
    train_max = ModelConfig(input_size=1, hidden_size=1024, num_layers=6, bidirectional=True, horizon=12)
    assert big.estimate(train_max, lookback=100, batch_size=8).params <= big.max_params
    for bad in ("-5", "0", "lots", "inf", "nan"):
        with pytest.raises(DataError, match="GRU_LAB_MAX_PARAMS"):
            Limits.from_env({"GRU_LAB_MAX_PARAMS": bad})


def test_activation_table_covers_every_cell():
    assert set(ACTIVATION_FLOATS) == set(CELLS)
    with pytest.raises(DataError, match="hidden_size"):
        Limits().estimate(ModelConfig(hidden_size=0))
