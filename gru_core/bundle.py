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

Loading is defensive because a bundle may come from anywhere, and it does bounded work before it
trusts anything (each step caps what the next one may cost):

1. file size: at most ``4 * Limits.max_params`` bytes of weights plus the config's pickle;
2. archive records: count, each record's declared size, then each inflated in chunks with a cap
   and re-packed uncompressed, so ``torch.load`` reads only the checked bytes (zip bombs stop here);
3. ``torch.load(weights_only=True, map_location="cpu")``: PyTorch's restricted unpickler, so no code
   runs and no class is imported;
4. the config: plain JSON types, at most MAX_CONFIG_NODES values / MAX_CONFIG_DEPTH levels, no
   shared references ("billion laughs") -- before anything serialises it; the weights: plain dense
   contiguous float32 tensors, each with its own storage, in all at most ``Limits.max_params``;
5. the checksum -- which detects *corruption*, not tampering: anyone can recompute it, so
6. the settings, 7. the parameter count against :class:`~gru_core.limits.Limits` and every weight's
   name, shape and finite value (shapes come from a model built on the ``meta`` device, which
   allocates nothing) are validated before 8. the model is built.

Every failure is a :class:`BundleError` that says what is wrong and how to fix it.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import io
import json
import math
from dataclasses import dataclass, field

import torch

from gru_core._bundle_archive import (_HOW, MAX_PICKLE_BYTES, MAX_RECORDS, REFUSED,  # noqa: F401
                                      read_archive)                              # (REFUSED: re-exported)
from gru_core.errors import BundleError, DataError
from gru_core.limits import Limits
from gru_core.model import Forecaster, ModelConfig
from gru_core.train import TrainConfig
from gru_core.windows import Scaler, WindowConfig

FORMAT = "gru-lab-bundle/1"
_FORMAT_FAMILY = "gru-lab-bundle/"
_KEYS = {"format", "config", "state_dict", "sha256"}
MAX_CONFIG_NODES = 20_000           # values in the config (a 500-column table needs ~1,600)
MAX_CONFIG_DEPTH = 8                # nesting levels (GRU Lab writes 4)
MAX_CONFIG_CHARS = 100_000          # characters of text in the config
MAX_ABS_WEIGHT = 1e6                # |weight| beyond this is refused (trained weights stay O(10))


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


def _check_plain(config: dict) -> None:
    """Refuse a config that is not small plain JSON data -- before anything serialises it.

    Walks the structure once, visiting each container at most once: a container reached twice
    (a shared reference, the "billion laughs" trick) is refused, as is more than
    MAX_CONFIG_NODES values, MAX_CONFIG_CHARS characters of text or MAX_CONFIG_DEPTH levels.
    """
    not_plain = f"The bundle's settings are not plain data: it was edited or damaged. {_HOW}"
    seen: set[int] = {id(config)}                  # containers, marked when first reached
    stack = [(config, 1)]
    nodes = chars = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_CONFIG_NODES or depth > MAX_CONFIG_DEPTH:
            raise BundleError(f"The bundle's settings are larger or deeper than any GRU Lab writes "
                              f"(over {MAX_CONFIG_NODES:,} values or {MAX_CONFIG_DEPTH} levels). "
                              f"{_HOW}")
        kind = type(value)
        if kind in (dict, list):
            items = value.items() if kind is dict else enumerate(value)
            for key, item in items:
                if kind is dict:
                    if type(key) is not str:
                        raise BundleError(not_plain)
                    chars += len(key)
                if type(item) in (dict, list):
                    if id(item) in seen:
                        raise BundleError(f"The bundle's settings hold shared references (one list "
                                          f"or dict used in several places), which GRU Lab never "
                                          f"writes: it was edited. {_HOW}")
                    seen.add(id(item))
                stack.append((item, depth + 1))
        elif kind is str:
            chars += len(value)
        elif kind is int:
            if abs(value) > 2**63:
                raise BundleError(not_plain)
        elif kind not in (float, bool, type(None)):
            raise BundleError(not_plain)
        if chars > MAX_CONFIG_CHARS:
            raise BundleError(f"The bundle's settings hold more than {MAX_CONFIG_CHARS:,} characters "
                              f"of text; GRU Lab writes far less. {_HOW}")


def _check_tensors(state: dict, limits: Limits) -> None:
    """Plain, dense, contiguous float32 tensors with their own storage, within the size limit."""
    total, storages = 0, set()
    for name, t in state.items():
        if (type(t) is not torch.Tensor or t.layout != torch.strided or t.dtype != torch.float32
                or not t.is_contiguous() or t.storage_offset() != 0
                or t.untyped_storage().nbytes() != 4 * t.numel()
                or t.untyped_storage().data_ptr() in storages):
            raise BundleError(f"The bundle's weight {name[:80]!r} is not a plain float32 tensor "
                              f"with its own storage, as GRU Lab saves them: it was edited. {_HOW}")
        if t.numel():
            storages.add(t.untyped_storage().data_ptr())
        total += t.numel()
    if total > limits.max_params or len(state) > MAX_RECORDS:
        raise BundleError(f"The bundle holds {total:,} weights, over this server's limit of "
                          f"{limits.max_params:,} parameters (GRU_LAB_MAX_PARAMS). Train a smaller "
                          f"model, or load it on a server with higher limits.")


def _build(cls, d, what: str):
    if not isinstance(d, dict):
        raise BundleError(f"The bundle's {what} settings are missing or malformed. {_HOW}")
    try:
        obj = cls(**d)
        if hasattr(obj, "validate"):
            obj.validate()
        return obj
    except TypeError as e:
        raise BundleError(f"The bundle's {what} settings do not fit this version of GRU Lab "
                          f"({str(e)[:200]}). {_HOW}") from None
    except DataError as e:
        raise BundleError(f"The bundle's {what} settings are invalid: {str(e)[:300]}") from None


def _layout(obj) -> tuple[dict, dict, str]:
    """The format tag and the four keys; returns (config, state_dict, sha256)."""
    if not isinstance(obj, dict) or "format" not in obj:
        raise BundleError(f"This PyTorch file is not a GRU Lab model bundle (no format tag; a plain "
                          f"checkpoint or state_dict?). {_HOW}")
    fmt = obj["format"]
    shown = repr(fmt)[:80]
    if fmt != FORMAT:
        if isinstance(fmt, str) and fmt.startswith(_FORMAT_FAMILY):
            raise BundleError(f"This bundle has format {shown} but this GRU Lab reads {FORMAT!r}: "
                              f"open it with the GRU Lab version that saved it, or retrain and save "
                              f"the model again here.")
        raise BundleError(f"This PyTorch file is not a GRU Lab model bundle (format {shown}). {_HOW}")
    if set(obj) != _KEYS:
        keys = sorted(str(k)[:40] for k in list(obj)[:8])
        raise BundleError(f"The bundle's layout is wrong (keys {keys}, expected {sorted(_KEYS)}): "
                          f"it was edited or damaged. {_HOW}")
    config, state, digest = obj["config"], obj["state_dict"], obj["sha256"]
    if (not isinstance(config, dict) or not isinstance(digest, str) or not isinstance(state, dict)
            or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())):
        raise BundleError(f"The bundle's layout is wrong (config, weights or checksum malformed): "
                          f"it was edited or damaged. {_HOW}")
    return config, state, digest


def _settings(config: dict):
    """Model, window, training and scaler configs that fit together."""
    model_cfg = _build(ModelConfig, config.get("model"), "model")
    window = _build(WindowConfig, config.get("window"), "window")
    train_raw = config.get("train")
    train_cfg = None if train_raw is None else _build(TrainConfig, train_raw, "training")
    try:
        scaler = Scaler.from_dict(config.get("scaler"))
    except (DataError, TypeError, AttributeError) as e:
        raise BundleError(f"The bundle's scaler settings are invalid: {str(e)[:300]}") from None
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
    return model_cfg, window, train_cfg, scaler, columns, target


def _check_weights(state: dict, model_cfg: ModelConfig, limits: Limits) -> None:
    """Parameter count vs the limits, then names, shapes and values vs the config (nothing built)."""
    try:
        limits.check(model_cfg, what="The bundle's model")
    except DataError as e:
        raise BundleError(f"{e} Load it on a server with higher limits, or train a smaller model.") \
            from None
    with torch.device("meta"):                     # shapes only: allocates nothing
        expected = Forecaster(model_cfg).state_dict()
    if set(state) != set(expected):
        missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        raise BundleError(f"The bundle's weights do not fit its model config (missing {missing[:5]}, "
                          f"unexpected {[k[:40] for k in extra[:5]]}). {_HOW}")
    wrong = [f"{k}: {tuple(state[k].shape)} instead of {tuple(v.shape)}"
             for k, v in expected.items() if state[k].shape != v.shape or state[k].dtype != v.dtype]
    if wrong:
        raise BundleError(f"The bundle's weight shapes do not fit its model config "
                          f"({'; '.join(wrong[:3])}). {_HOW}")
    for name in expected:
        t = state[name]
        if not bool(torch.isfinite(t).all()):
            raise BundleError(f"The bundle's weight {name!r} holds NaN or infinite values, so the "
                              f"model cannot forecast. Retrain the model and save it again.")
        if t.numel() and float(t.abs().max()) > MAX_ABS_WEIGHT:
            raise BundleError(f"The bundle's weight {name!r} holds values up to "
                              f"{float(t.abs().max()):.3g}, beyond the ±{MAX_ABS_WEIGHT:g} a trained "
                              f"GRU Lab model stays within: it was edited. Retrain and save again.")


def load_bundle(data, limits: Limits | None = None) -> Bundle:
    """Load a bundle written by :func:`save_bundle`, refusing anything else with bounded work.

    The checks run in this order, each bounded before the next trusts anything: file size ->
    archive records (count, declared sizes, inflated with a cap) -> restricted unpickling -> the
    config's size, depth and shared references and the weights' total size -> checksum -> the
    settings -> parameter count vs ``limits`` -> weight names, shapes, finite values -> build.

    Parameters
    ----------
    data : bytes or file-like
        The file's bytes (or an object with ``getvalue()``/``read()``, such as a Streamlit upload).
    limits : Limits, optional
        The server's limits (default ``Limits.from_env()``); a bundle whose model exceeds them is
        refused before it is built.

    Returns
    -------
    Bundle
        With the model on the CPU in eval mode.

    Raises
    ------
    BundleError
        Empty, random or oversized bytes, a zip bomb, not a GRU Lab bundle, another format version,
        a checksum mismatch (damaged), settings or weights that do not fit together, are not finite
        or exceed the limits, or a pickle that holds Python objects other than tensors (refused
        without running any of it). The checksum detects corruption, not tampering: anyone can
        recompute it, so every setting and weight is validated as well.
    """
    limits = limits if limits is not None else Limits.from_env()
    obj = read_archive(data, 4 * limits.max_params + MAX_PICKLE_BYTES)   # 1-3. size, records, unpickle
    config, state, digest = _layout(obj)                         # 3. format tag and layout
    _check_plain(config)                                         # 4. bounded before hashing
    _check_tensors(state, limits)
    try:                                                         # 5. corruption check
        actual = _digest(config, state)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise BundleError(f"The bundle's settings are not plain data: it was edited or damaged. "
                          f"{_HOW}") from None
    if actual != digest:
        raise BundleError("The bundle is damaged (checksum mismatch): the file changed after it was "
                          "saved. Use the original file as downloaded from GRU Lab, or save the "
                          "model again. (The checksum catches corruption, not deliberate edits; "
                          "GRU Lab validates every setting and weight as well.)")
    model_cfg, window, train_cfg, scaler, columns, target = _settings(config)   # 6. settings
    _check_weights(state, model_cfg, limits)                     # 7. limits, shapes, values
    model = Forecaster(model_cfg)                                # 8. build
    model.load_state_dict(state)
    model.eval()
    meta = config.get("meta") if isinstance(config.get("meta"), dict) else {}
    return Bundle(model=model, model_cfg=model_cfg, window=window, scaler=scaler,
                  columns=list(columns), target=target, train_cfg=train_cfg, meta=meta)
