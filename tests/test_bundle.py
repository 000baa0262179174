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


# ---------------------------------------------------------------------------------------------
# hostile bundles (issue 11): each refused with bounded work, before anything is built
# ---------------------------------------------------------------------------------------------
import resource
import struct
import tracemalloc
import zipfile
import zlib

import gru_core.bundle as bundle_mod
from gru_core.limits import Limits


def refused_bounded(data, match, monkeypatch, limits=None, peak_mb=8.0):
    """load_bundle(data) raises BundleError matching ``match``; Python's peak allocation stays under
    ``peak_mb`` (tracemalloc), the process's peak RSS grows by under 200 MB, and no Forecaster is
    built except on the meta device (which allocates nothing)."""
    built = []
    real = bundle_mod.Forecaster

    def spy(cfg):
        model = real(cfg)
        if next(model.parameters()).device.type != "meta":
            built.append(cfg)
        return model

    monkeypatch.setattr(bundle_mod, "Forecaster", spy)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss          # KiB on Linux
    tracemalloc.start()
    try:
        with pytest.raises(BundleError, match=match) as err:
            load_bundle(data, limits=limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
    assert peak < peak_mb * 2**20, f"peak {peak / 2**20:.1f} MB"
    assert grown < 200 * 1024, f"peak RSS grew by {grown / 1024:.0f} MB"
    assert not built, "a model was built before the bundle was refused"
    return str(err.value)


def records(raw_bytes):
    with zipfile.ZipFile(io.BytesIO(raw_bytes)) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def zip_bytes(entries):
    """A zip archive written by hand: entries of (name, stored bytes, method, declared size, crc),
    so the declared size and the content may disagree (zipfile cannot write such a file)."""
    out, central = bytearray(), bytearray()
    for name, data, method, size, crc in entries:
        n, off = name.encode(), len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data), size,
                           len(n), 0) + n + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc,
                               len(data), size, len(n), 0, 0, 0, 0, 0, off) + n
    start = len(out)
    out += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                                 len(central), start, 0)
    return bytes(out)


def stored(name, data):
    return (name, data, zipfile.ZIP_STORED, len(data), zlib.crc32(data))


def deflate_zeros(mib: int) -> bytes:
    """A raw deflate stream of ``mib`` MiB of zeros (~1 KB per MiB) without compressing them all:
    a full flush ends each block on a byte boundary with no back references, so blocks repeat."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(2**20)) + c.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()            # an empty final block
    return block * mib + end


def test_deflate_zeros_helper_is_a_valid_stream():
    d = zlib.decompressobj(-15)
    assert d.decompress(deflate_zeros(3)) == bytes(3 * 2**20) and d.eof


def test_repacked_deflated_bundle_still_loads(model, ds, raw):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in records(raw):
            z.writestr(name, data)
    b = load_bundle(buf.getvalue())
    assert all(torch.equal(b.model.state_dict()[k], v) for k, v in model.state_dict().items())


def test_deflate_bomb_declared_1_gib_is_refused_unread(raw, monkeypatch):
    bomb = deflate_zeros(1024)                                        # ~1 MB inflating to 1 GiB
    entries = [stored(n, d) for n, d in records(raw) if not n.endswith("/data/0")]
    entries.append(("archive/data/0", bomb, zipfile.ZIP_DEFLATED, 2**30, 0))
    assert len(bomb) < 1.2 * 2**20
    msg = refused_bounded(zip_bytes(entries), "zip bomb", monkeypatch)
    assert "1024.0 MB" in msg


def test_deflate_bomb_that_lies_about_its_size_stops_at_the_declared_size(raw, monkeypatch):
    recs = dict(records(raw))
    real = recs["archive/data/0"]
    bomb = deflate_zeros(1024)
    entries = [stored(n, d) for n, d in recs.items() if n != "archive/data/0"]
    entries.append(("archive/data/0", bomb, zipfile.ZIP_DEFLATED, len(real), zlib.crc32(real)))
    refused_bounded(zip_bytes(entries), "fails its checksum", monkeypatch)


def test_record_count_and_small_records_are_capped(raw, monkeypatch):
    entries = [stored(n, d) for n, d in records(raw)]
    many = entries + [stored(f"archive/extra/{i}", b"x") for i in range(400)]
    refused_bounded(zip_bytes(many), "400 records|records; a GRU Lab bundle has at most", monkeypatch)
    big_version = [e if not e[0].endswith("/version") else stored(e[0], b"3" * 10_000)
                   for e in entries]
    refused_bounded(zip_bytes(big_version), "declares 10,000 bytes", monkeypatch)
    dup = entries + [entries[-1]]
    refused_bounded(zip_bytes(dup), "same name", monkeypatch)


def test_oversized_upload_is_refused_before_reading(monkeypatch):
    class Huge(io.BytesIO):
        size = 10 * 2**30

        def read(self, *a):
            raise AssertionError("read() called on an oversized upload")

    refused_bounded(Huge(b"PK\x03\x04"), "more than a bundle of the largest model", monkeypatch)
    small = Limits(max_params=1000)
    refused_bounded(b"PK\x03\x04" + bytes(4 * 2**20), "more than a bundle", monkeypatch,
                    limits=small, peak_mb=16)


def laughs(levels: int, width: int = 10):
    """A list whose expansion has width**levels elements but which pickles to a few KB."""
    node = [1.5] * width
    for _ in range(levels):
        node = [node] * width
    return node


def test_billion_laughs_config_is_refused_before_hashing(raw, monkeypatch):
    obj = payload(raw)
    obj["config"]["meta"]["notes"] = laughs(9)                       # 10**10 floats when expanded
    data = resave(obj)
    assert len(data) < len(raw) + 20_000
    assert "shared references" in refused_bounded(data, "shared references", monkeypatch)
    obj = payload(raw)                                              # one dict reused in two places
    obj["config"]["meta"]["a"] = obj["config"]["meta"]["b"] = {"x": 1}
    refused_bounded(resave(obj), "shared references", monkeypatch)


def test_deep_large_or_odd_config_is_refused(raw, monkeypatch):
    deep: list = []
    for _ in range(40):
        deep = [deep]
    for value, match in [(deep, "deeper"), ("x" * 120_000, "characters"),
                         (b"bytes", "not plain data"), (10**30, "not plain data"),
                         ((1, 2), "not plain data")]:
        obj = payload(raw)
        obj["config"]["meta"]["x"] = value
        refused_bounded(resave(obj), match, monkeypatch)
    obj = payload(raw)                                  # more values than GRU Lab ever writes
    obj["config"]["meta"]["x"] = [7] * 25_000           # (not traced: tracemalloc slows it 17x)
    with pytest.raises(BundleError, match="larger or deeper"):
        load_bundle(resave(obj))
    obj["config"]["meta"]["x"] = list(range(200_000))   # a pickle too big to unpickle at all
    with pytest.raises(BundleError, match="data.pkl' declares"):
        load_bundle(resave(obj))


def test_a_500_column_bundle_fits_the_caps():
    t = np.arange(60, dtype=np.float64)
    values = np.sin(t[:, None] / (1 + np.arange(500)))                    # (T, 500)
    names = [f"sensor_{i:03d}_temperature_celsius" for i in range(500)]
    d = make_dataset(series_from_array(values, name=names), WindowConfig(8, 2))
    m = Forecaster(ModelConfig(input_size=500, hidden_size=8, num_layers=1, horizon=2))
    b = load_bundle(save_bundle(m, d, TrainConfig()))
    assert b.columns == names and len(b.scaler.center) == 500


def test_declared_huge_model_is_refused_before_it_is_built(raw, monkeypatch):
    obj = payload(raw)
    obj["config"]["model"].update(hidden_size=4096, num_layers=3)     # ~250 M parameters, ~1 GB
    obj["sha256"] = _digest(obj["config"], obj["state_dict"])        # a consistent forgery
    msg = refused_bounded(resave(obj), "too big for this server", monkeypatch)
    assert "5,000,000" in msg and "hidden units" in msg


def test_weights_beyond_the_limit_are_refused_before_hashing(raw, monkeypatch):
    obj = payload(raw)
    obj["state_dict"]["head.weight"] = torch.zeros(4, 300_000)       # 1.2 M weights
    small = Limits(max_params=1_000_000)
    refused_bounded(resave(obj), "holds 1,2.*weights, over this server's limit of 1,000,000",
                    monkeypatch, limits=small, peak_mb=16)


@pytest.mark.parametrize("value,match", [(float("nan"), "NaN or infinite"),
                                         (float("inf"), "NaN or infinite"),
                                         (3e38, "beyond the ±1e\\+06")])
def test_non_finite_or_absurd_weights_with_recomputed_checksum(raw, value, match, monkeypatch):
    obj = payload(raw)
    obj["state_dict"]["rnn.weight_hh_l0"][3, 1] = value
    obj["sha256"] = _digest(obj["config"], obj["state_dict"])
    msg = refused_bounded(resave(obj), match, monkeypatch)
    assert "rnn.weight_hh_l0" in msg


def test_expanded_or_shared_tensors_are_refused(raw, monkeypatch):
    obj = payload(raw)
    obj["state_dict"]["head.weight"] = torch.zeros(1).expand(10**6, 10**6)   # 4 TB if made dense
    refused_bounded(resave(obj), "not a plain float32 tensor", monkeypatch)
    obj = payload(raw)
    obj["state_dict"]["head.bias"] = obj["state_dict"]["rnn.bias_hh_l0"][:4]  # a view of another
    refused_bounded(resave(obj), "own storage", monkeypatch)
    obj = payload(raw)
    obj["state_dict"]["head.bias"] = obj["state_dict"]["head.bias"].double()
    refused_bounded(resave(obj), "float32", monkeypatch)


def test_checksum_message_says_it_catches_corruption_not_tampering(raw):
    obj = payload(raw)
    obj["config"]["target"] = "price"
    with pytest.raises(BundleError, match="catches corruption, not deliberate edits"):
        load_bundle(resave(obj))
