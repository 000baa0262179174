"""The gate tape: frame k holds the weights after epoch k (checked against separate k-epoch runs
with the same seed), its gates and forecast are what ``nn.GRU`` and the model compute on those
weights, and the bound keeps epoch 0 and an even stride."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gru_core.data import series_from_array
from gru_core.errors import DataError
from gru_core.gates import trace_gates
from gru_core.model import Forecaster, ModelConfig
from gru_core.tape import GateTape
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset


@pytest.fixture(scope="module")
def ds():
    t = np.arange(260, dtype=float)
    return make_dataset(series_from_array(np.sin(t / 5) + 0.1 * np.cos(t / 2)),
                        WindowConfig(12, 3), SplitConfig(0.7, 0.15, 0.15))


MC = ModelConfig(hidden_size=6, num_layers=2, horizon=3)


def _tc(epochs):
    """A constant learning rate: with the default warm-up + cosine schedule a 1-epoch run's rates
    differ from the first epoch of a 2-epoch run (the schedule spans the planned steps), and the
    frames are compared with independent shorter runs."""
    return TrainConfig(epochs=epochs, batch_size=32, lr=0.01, patience=0, device="cpu", seed=4,
                       schedule="constant")


def test_frames_are_the_weights_after_each_epoch(ds):
    probe = ds.test.X[2]
    run = TrainingRun(ds, MC, _tc(2))
    tape = GateTape(probe)
    tape.record(0, run.model)
    run.on_epoch_end = tape.record
    assert run.run().state == "finished"
    frames = tape.frames()
    assert [f.epoch for f in frames] == [0, 1, 2]
    one = TrainingRun(ds, MC, _tc(1))                           # an independent 1-epoch run
    one.run()
    independent = {0: TrainingRun(ds, MC, _tc(1)).model,       # untrained, same seed
                   1: one.model, 2: run.model}                  # patience 0: the end weights
    for f in frames:
        model = independent[f.epoch].eval()
        for k, v in model.state_dict().items():
            torch.testing.assert_close(f.state[k], v, rtol=0, atol=1e-6)
        out, h_n = model.rnn(probe[None])                          # nn.GRU on those weights
        torch.testing.assert_close(f.trace.output, out, rtol=0, atol=1e-5)
        torch.testing.assert_close(f.trace.h[:, 0, -1], h_n[:, 0], rtol=0, atol=1e-5)
        np.testing.assert_allclose(f.forecast, model(probe[None])[0].detach().numpy(), atol=1e-5)
    assert not torch.allclose(frames[0].trace.z, frames[-1].trace.z)  # training moved the gates


def test_frame_gates_equal_trace_gates_on_frame_weights(ds):
    run = TrainingRun(ds, MC, _tc(1))
    tape = GateTape(ds.test.X[0])
    run.on_epoch_end = tape.record
    run.start()
    assert run.join(timeout=120)
    for f in tape.frames():
        m = Forecaster(MC)
        m.load_state_dict(f.state)
        ref = trace_gates(m.rnn, ds.test.X[0:1])
        for g in "rznh":
            torch.testing.assert_close(getattr(f.trace, g), getattr(ref, g), rtol=0, atol=0)


def test_bound_keeps_epoch_zero_and_an_even_stride():
    torch.manual_seed(0)
    model = Forecaster(ModelConfig(hidden_size=3, num_layers=1, horizon=2))
    tape = GateTape(torch.randn(7, 1), max_frames=5)
    kept = [e for e in range(13) if tape.record(e, model)]
    # by hand: 0-4 fill the tape -> [0, 2, 4], stride 2; 6, 8 fill it -> [0, 4, 8], stride 4; 12
    assert kept == [0, 1, 2, 3, 4, 6, 8, 12]
    assert tape.epochs() == [0, 4, 8, 12]
    assert tape.every == 4


def test_memory_is_counted_by_hand():
    torch.manual_seed(0)
    K, U, L, H = 2, 4, 9, 3
    model = Forecaster(ModelConfig(hidden_size=U, num_layers=K, horizon=H))
    tape = GateTape(torch.randn(1, L, 1))
    assert tape.memory_bytes() == 0
    tape.record(0, model)
    tape.record(1, model)
    params = sum(p.numel() for p in model.state_dict().values())
    per = 4 * (params + 4 * K * L * U + L * U + K * U) + 4 * H    # float32 everywhere
    assert tape.frame_bytes() == per
    assert tape.memory_bytes() == 2 * per


def test_bad_inputs():
    with pytest.raises(DataError, match="one window"):
        GateTape(torch.randn(2, 5, 1))
    with pytest.raises(DataError, match="at least 3"):
        GateTape(torch.randn(5, 1), max_frames=2)
    lstm = Forecaster(ModelConfig(hidden_size=3, num_layers=1, horizon=2, cell="lstm"))
    with pytest.raises(DataError, match="not a GRU"):
        GateTape(torch.randn(5, 1)).record(0, lstm)
