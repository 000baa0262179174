"""Model bundles: one file that holds a trained forecaster and everything needed to use it again.

A bundle is ``torch.save`` of a dict holding only tensors and plain JSON-able data::

    {"format":     "gru-lab-bundle/1",
     "config":     {"model": ModelConfig, "window": WindowConfig, "scaler": Scaler.to_dict(),
                    "columns": [...], "target": str, "train": TrainConfig | None,
                    "meta": {"created", "torch", "n_params", "final": {losses ...}}},
     "state_dict": {name: tensor},                       # CPU, contiguous
     "sha256":     hex digest}

    sha256 = SHA-256( canonical JSON of config                 (sorted keys, no spaces, no NaN)
                      + for each state_dict key, sorted:  0x00 key 0x00 dtype 0x00 shape 0x00 raw bytes )

Loading is defensive because a bundle may come from anywhere: ``torch.load(weights_only=True,
map_location="cpu")`` (PyTorch's restricted unpickler: no code runs, no class is imported) on
zip-format files only, then the format tag, the checksum, the configs and every tensor's shape are
checked before any weight reaches a model. Every failure is a :class:`BundleError` that says what
is wrong and how to fix it.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import io
import json
import math
import pickle
from dataclasses import dataclass, field

import torch

from gru_core.errors import BundleError, DataError
from gru_core.model import Forecaster, ModelConfig
from gru_core.train import TrainConfig
from gru_core.windows import Scaler, WindowConfig

FORMAT = "gru-lab-bundle/1"
_FORMAT_FAMILY = "gru-lab-bundle/"
_KEYS = {"format", "config", "state_dict", "sha256"}
_ZIP_MAGIC = b"PK\x03\x04"
REFUSED = ("refused to load: the file contains Python objects other than tensors; "
           "only upload bundles saved by GRU Lab")
_HOW = "Upload a .pt bundle saved by GRU Lab (Save model), or save the model again."


@dataclass
class Bundle:
    """A loaded bundle: a ready model (eval mode, CPU) plus the settings it was trained with."""

    model: Forecaster
    model_cfg: ModelConfig
    window: WindowConfig
    scaler: Scaler                     # fitted; maps data units <-> the model's scaled units
    columns: list[str]                 # input columns, columns[0] is the target
    target: str
    train_cfg: TrainConfig | None
    meta: dict = field(default_factory=dict)   # created, torch, n_params, final losses


def _finite_or_none(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _canonical_json(config: dict) -> bytes:
    return json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def _digest(config: dict, state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the canonical config JSON and every tensor's name, dtype, shape and bytes."""
    h = hashlib.sha256(_canonical_json(config))
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(b"\0" + name.encode("utf-8") + b"\0" + str(t.dtype).encode("ascii") + b"\0"
                 + json.dumps(list(t.shape)).encode("ascii") + b"\0")
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_bundle(model: Forecaster, dataset, train_cfg: TrainConfig | None = None,
                progress=None) -> bytes:
    """Serialise a trained model and its data settings to bytes (for ``st.download_button``).

    Parameters
    ----------
    model : Forecaster
    dataset : gru_core.windows.Dataset
        Supplies the window config, the fitted scaler, the column names and the target.
    train_cfg : TrainConfig, optional
        Stored for reference.
    progress : gru_core.train.Progress, optional
        Its final losses go into ``meta["final"]``.

    Returns
    -------
    bytes
        A ``torch.save`` zip archive; see the module docstring for its contents.
    """
    series = dataset.series
    columns = [str(c) for c in getattr(series, "columns", ["value"])]
    final = None
    if progress is not None:
        final = {"state": progress.state, "epochs_run": int(progress.epoch),
                 "steps": int(progress.step),
                 "train_loss": _finite_or_none(progress.train_loss),
                 "val_loss": _finite_or_none(progress.val_loss),
                 "best_val": _finite_or_none(progress.best_val),
                 "best_epoch": progress.best_epoch}
    config = {
        "model": model.cfg.to_dict(),
        "window": dataclasses.asdict(dataset.window),
        "scaler": dataset.scaler.to_dict(),
        "columns": columns,
        "target": str(getattr(series, "target", columns[0])),
        "train": train_cfg.to_dict() if train_cfg is not None else None,
        "meta": {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                 "torch": str(torch.__version__), "n_params": model.n_params(), "final": final},
    }
    config = json.loads(_canonical_json(config))  # plain JSON types only (no str/float subclasses)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "config": config, "state_dict": state,
               "sha256": _digest(config, state)}
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def _read_bytes(data) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if hasattr(data, "getvalue"):
        return bytes(data.getvalue())
    if hasattr(data, "read"):
        return bytes(data.read())
    raise BundleError(f"Expected the bundle's bytes, got {type(data).__name__}. {_HOW}")


def _unpickle(raw: bytes):
    """torch.load with the restricted unpickler; zip archives only (GRU Lab never writes others)."""
    if not raw:
        raise BundleError(f"The file is empty. {_HOW}")
    if not raw.startswith(_ZIP_MAGIC):
        if raw[:1] == b"\x80":  # PROTO opcode: a raw pickle, which can carry arbitrary objects
            raise BundleError(f"{REFUSED} (this is a raw Python pickle, not a GRU Lab bundle).")
        raise BundleError(f"This is not a GRU Lab model bundle (not a PyTorch zip archive). {_HOW}")
    try:
        return torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as e:
        if "global" in str(e).lower():
            raise BundleError(f"{REFUSED}.") from None
        raise BundleError(f"The bundle is damaged: its contents could not be read. {_HOW}") from None
    except Exception:
        raise BundleError(f"The bundle is damaged or not a GRU Lab bundle: the PyTorch archive "
                          f"could not be read (truncated or corrupted download?). {_HOW}") from None


def _build(cls, d, what: str):
    if not isinstance(d, dict):
        raise BundleError(f"The bundle's {what} settings are missing or malformed. {_HOW}")
    try:
        obj = cls(**d)
        if hasattr(obj, "validate"):
            obj.validate()
        return obj
    except TypeError as e:
        raise BundleError(f"The bundle's {what} settings do not fit this version of GRU Lab ({e}). "
                          f"{_HOW}") from None
    except DataError as e:
        raise BundleError(f"The bundle's {what} settings are invalid: {e}") from None


def load_bundle(data) -> Bundle:
    """Load a bundle written by :func:`save_bundle`, refusing anything else.

    Parameters
    ----------
    data : bytes or file-like
        The file's bytes (or an object with ``getvalue()``/``read()``, such as a Streamlit upload).

    Returns
    -------
    Bundle
        With the model on the CPU in eval mode.

    Raises
    ------
    BundleError
        Empty or random bytes, not a GRU Lab bundle, another format version, a checksum mismatch
        (damaged or edited), configs or tensor shapes that do not fit together, or a pickle that
        holds Python objects other than tensors (refused without running any of it).
    """
    # 1. restricted unpickling
    obj = _unpickle(_read_bytes(data))

    # 2. format tag and layout
    if not isinstance(obj, dict) or "format" not in obj:
        raise BundleError(f"This PyTorch file is not a GRU Lab model bundle (no format tag; a plain "
                          f"checkpoint or state_dict?). {_HOW}")
    fmt = obj["format"]
    if fmt != FORMAT:
        if isinstance(fmt, str) and fmt.startswith(_FORMAT_FAMILY):
            raise BundleError(f"This bundle has format {fmt!r} but this GRU Lab reads {FORMAT!r}: "
                              f"open it with the GRU Lab version that saved it, or retrain and save "
                              f"the model again here.")
        raise BundleError(f"This PyTorch file is not a GRU Lab model bundle (format {fmt!r}). {_HOW}")
    if set(obj) != _KEYS:
        raise BundleError(f"The bundle's layout is wrong (keys {sorted(map(str, obj))}, expected "
                          f"{sorted(_KEYS)}): it was edited or damaged. {_HOW}")
    config, state, digest = obj["config"], obj["state_dict"], obj["sha256"]
    if (not isinstance(config, dict) or not isinstance(digest, str) or not isinstance(state, dict)
            or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())):
        raise BundleError(f"The bundle's layout is wrong (config, weights or checksum malformed): "
                          f"it was edited or damaged. {_HOW}")

    # 3. checksum over config + weights
    try:
        actual = _digest(config, state)
    except (TypeError, ValueError, RuntimeError):
        raise BundleError(f"The bundle's settings are not plain data: it was edited or damaged. "
                          f"{_HOW}") from None
    if actual != digest:
        raise BundleError("The bundle is damaged or was edited after saving (checksum mismatch): "
                          "use the original file as downloaded from GRU Lab, or save the model again.")

    # 4. configs that fit together
    model_cfg = _build(ModelConfig, config.get("model"), "model")
    window = _build(WindowConfig, config.get("window"), "window")
    train_raw = config.get("train")
    train_cfg = None if train_raw is None else _build(TrainConfig, train_raw, "training")
    try:
        scaler = Scaler.from_dict(config.get("scaler"))
    except (DataError, TypeError, AttributeError) as e:
        raise BundleError(f"The bundle's scaler settings are invalid: {e}") from None
    columns, target = config.get("columns"), config.get("target")
    if not (isinstance(columns, list) and columns and all(isinstance(c, str) for c in columns)
            and isinstance(target, str) and target == columns[0]):
        raise BundleError(f"The bundle's column names are malformed (target must be the first "
                          f"column). {_HOW}")
    problems = []
    if len(columns) != model_cfg.input_size:
        problems.append(f"{len(columns)} column(s) but input_size {model_cfg.input_size}")
    if window.horizon != model_cfg.horizon:
        problems.append(f"window horizon {window.horizon} but model horizon {model_cfg.horizon}")
    if not scaler.fitted or len(scaler.center) != model_cfg.input_size:
        problems.append("a scaler that does not match the input columns")
    if problems:
        raise BundleError(f"The bundle's settings do not fit together ({'; '.join(problems)}). {_HOW}")

    # 5. weights whose names and shapes fit the model config
    model = Forecaster(model_cfg)
    expected = model.state_dict()
    if set(state) != set(expected):
        missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        raise BundleError(f"The bundle's weights do not fit its model config (missing {missing}, "
                          f"unexpected {extra}). {_HOW}")
    wrong = [f"{k}: {tuple(state[k].shape)} instead of {tuple(v.shape)}"
             for k, v in expected.items()
             if state[k].shape != v.shape or state[k].dtype != v.dtype]
    if wrong:
        raise BundleError(f"The bundle's weight shapes do not fit its model config "
                          f"({'; '.join(wrong[:3])}). {_HOW}")
    model.load_state_dict(state)
    model.eval()
    meta = config.get("meta") if isinstance(config.get("meta"), dict) else {}
    return Bundle(model=model, model_cfg=model_cfg, window=window, scaler=scaler,
                  columns=list(columns), target=target, train_cfg=train_cfg, meta=meta)
