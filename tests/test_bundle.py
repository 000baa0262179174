"""Tests for gru_core.bundle: exact round trip, and refusal of everything that is not an intact
GRU Lab bundle -- edited, damaged, other formats, random bytes and malicious pickles."""
import io
import os
import random
import pickle

import numpy as np
import pytest
import torch

from gru_core.bundle import FORMAT, REFUSED, Bundle, _digest, load_bundle, save_bundle
from gru_core.data import series_from_array
from gru_core.errors import BundleError
from gru_core.model import Forecaster, ModelConfig
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import WindowConfig, make_dataset


@pytest.fixture(scope="module")
def ds():
    t = np.arange(200)
    values = np.stack([np.sin(2 * np.pi * t / 12) * 5 + 20, np.cos(t / 7)], axis=1)
    return make_dataset(series_from_array(values, name=["sales", "price"]), WindowConfig(16, 4))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Forecaster(ModelConfig(input_size=2, hidden_size=8, num_layers=2, horizon=4))


@pytest.fixture(scope="module")
def raw(model, ds):
    return save_bundle(model, ds, TrainConfig(lr=3e-3, epochs=7))


def payload(raw_bytes):
    return torch.load(io.BytesIO(raw_bytes), weights_only=True, map_location="cpu")


def resave(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_round_trip_identical_predictions(model, ds, raw):
    b = load_bundle(raw)
    assert isinstance(b, Bundle) and not b.model.training
    assert b.model_cfg == model.cfg and b.window == ds.window
    assert b.columns == ["sales", "price"] and b.target == "sales"
    assert b.train_cfg == TrainConfig(lr=3e-3, epochs=7)
    assert b.scaler.to_dict() == ds.scaler.to_dict()
    assert b.meta["n_params"] == model.n_params() and b.meta["torch"] == torch.__version__
    model.eval()
    with torch.no_grad():
        assert torch.equal(b.model(ds.test.X), model(ds.test.X))
    assert load_bundle(io.BytesIO(raw)).model_cfg == model.cfg     # file-like input works


def test_bundle_holds_only_plain_data(raw):
    obj = payload(raw)
    assert obj["format"] == FORMAT and set(obj) == {"format", "config", "state_dict", "sha256"}
    assert all(isinstance(v, torch.Tensor) for v in obj["state_dict"].values())
    assert obj["sha256"] == _digest(obj["config"], obj["state_dict"])


def test_meta_records_final_losses(ds):
    run = TrainingRun(ds, ModelConfig(input_size=2, hidden_size=8, num_layers=1, horizon=4),
                      TrainConfig(epochs=1, batch_size=64, device="cpu", num_threads=1))
    p = run.run()
    b = load_bundle(save_bundle(run.model, ds, run.cfg, progress=p))
    final = b.meta["final"]
    assert final["state"] == "finished" and final["val_loss"] == pytest.approx(p.val_loss)
    assert final["epochs_run"] == 1


def test_edited_weight_is_rejected(raw):
    obj = payload(raw)
    obj["state_dict"]["head.bias"][0] += 1e-3                    # hash left as it was
    with pytest.raises(BundleError, match="checksum"):
        load_bundle(resave(obj))


def test_edited_config_is_rejected(raw):
    obj = payload(raw)
    obj["config"]["scaler"]["scale"][0] *= 2
    with pytest.raises(BundleError, match="checksum"):
        load_bundle(resave(obj))


def test_flipped_bytes_are_rejected(raw, model):
    weight = model.state_dict()["rnn.weight_hh_l1"].numpy().tobytes()
    pos = raw.find(weight)
    assert pos > 0
    for offset in (0, len(weight) // 2, len(weight) - 1):
        bad = bytearray(raw)
        bad[pos + offset] ^= 0x5A
        with pytest.raises(BundleError, match="checksum"):
            load_bundle(bytes(bad))
    tag = raw.find(FORMAT.encode())
    bad = bytearray(raw)
    bad[tag + len(FORMAT) - 1] ^= 0x01                           # "gru-lab-bundle/0"
    with pytest.raises(BundleError):
        load_bundle(bytes(bad))
    with pytest.raises(BundleError, match="damaged"):
        load_bundle(raw[: len(raw) // 2])                        # truncated download


def test_other_format_version(raw):
    obj = payload(raw)
    obj["format"] = "gru-lab-bundle/2"
    with pytest.raises(BundleError, match="format 'gru-lab-bundle/2'"):
        load_bundle(resave(obj))


def test_plain_checkpoint_is_not_a_bundle(model):
    with pytest.raises(BundleError, match="not a GRU Lab model bundle"):
        load_bundle(resave(model.state_dict()))
    with pytest.raises(BundleError, match="not a GRU Lab model bundle"):
        load_bundle(resave([torch.ones(2)]))


def test_shapes_that_do_not_fit_the_config(raw):
    obj = payload(raw)
    obj["config"]["model"]["hidden_size"] = 16                   # weights are for hidden 8
    obj["sha256"] = _digest(obj["config"], obj["state_dict"])    # a consistent but wrong bundle
    with pytest.raises(BundleError, match="shapes do not fit"):
        load_bundle(resave(obj))
    obj = payload(raw)
    obj["config"]["columns"] = ["sales"]
    obj["sha256"] = _digest(obj["config"], obj["state_dict"])
    with pytest.raises(BundleError, match="input_size 2"):
        load_bundle(resave(obj))


GARBAGE = [b"", random.Random(0).randbytes(2048), b"PK\x03\x04" + random.Random(1).randbytes(500),
           b"date,value\n2020-01,1\n"]


@pytest.mark.parametrize("data", GARBAGE, ids=["empty", "random", "zip", "csv"])
def test_garbage_is_rejected(data):
    with pytest.raises(BundleError):
        load_bundle(data)


class Evil:
    """Unpickling this would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("kind", ["torch_zip", "raw_pickle_p2", "raw_pickle_p5"])
def test_malicious_pickle_is_refused_without_side_effect(tmp_path, raw, kind):
    marker = tmp_path / "pwned"
    evil = Evil(marker)
    if kind == "torch_zip":
        obj = payload(raw)
        obj["config"]["meta"] = evil                             # hidden inside a real bundle
        data = resave(obj)
    else:
        data = pickle.dumps({"format": FORMAT, "x": evil}, protocol=2 if kind.endswith("2") else 5)
    with pytest.raises(BundleError) as err:
        load_bundle(data)
    assert REFUSED in str(err.value)
    assert not marker.exists()
