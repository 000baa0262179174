"""Resource limits of one server: how big a model, a training step and a run may get.

GRU Lab runs several sessions on one machine, so every path that builds a model (Train, Gates,
Compare, Sweep, a loaded bundle) asks ONE :class:`Limits` object first, *before* allocating::

    lim = Limits.from_env()                       # defaults, or GRU_LAB_MAX_* for a bigger machine
    est = lim.estimate(model_cfg, lookback=48, batch_size=64, n_windows=800, epochs=50)
    est.ok, est.problems()                        # show est.rows() next to Start; disable it if not ok
    lim.check(model_cfg, lookback=48, ...)        # raises DataError naming the limit and the fix

What is estimated (all from the config, nothing is built):

    params        exact count of trainable parameters (nn.GRU/LSTM/RNN layout + linear head)
    step_work     L * (P * B + STEP_OVERHEAD * K * D)        one optimiser step, in multiply-add
                  units; the second term is PyTorch's per-timestep cost of each layer/direction
    window_epochs training windows * epochs                  the length of the whole run
    memory_bytes  4 * (WEIGHT_COPIES * P + a_cell * B*L*D*U*K + B*L*C)
                  weights, gradients, Adam's two moments and the trainer's two kept copies, plus
                  the activations autograd saves (a_cell floats per unit and timestep, measured)

Default limits, measured on the development machine (one thread, ``OMP_NUM_THREADS=1``, a shared
2-core box): larger models ran 0.7-2.7e9 work units per second, so the default
``max_step_work = 1.5e9`` is about one second per optimiser step (up to ~3 s when the machine is
loaded). tests/test_limits.py checks the parameter count against built models and the memory model
against the tensors autograd actually saves.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields

from gru_core.errors import DataError
from gru_core.model import CELLS, ModelConfig

STEP_OVERHEAD = 750_000      # work units per timestep, layer and direction (0.3-0.9 ms measured)
WEIGHT_COPIES = 6            # weights + gradients + Adam m, v + last-good and best-state copies
ACTIVATION_FLOATS = {"rnn": 2, "gru": 8, "lstm": 20}   # saved floats per B*L*D*U*K (autograd, CPU)
ENV_PREFIX = "GRU_LAB_"


def n_params(cfg: ModelConfig) -> int:
    """Trainable parameters of ``Forecaster(cfg)``, counted without building it.

    Per layer and direction: ``blocks*U*(I + U) + 2*blocks*U`` (input and recurrent weights, two
    biases), where I is C for layer 0 and D*U after it; the head adds ``D*U*H + H``.
    """
    blocks, U, D = CELLS[cfg.cell].blocks, cfg.hidden_size, cfg.num_directions
    total, width = 0, cfg.input_size
    for _ in range(cfg.num_layers):
        total += D * (blocks * U * (width + U) + 2 * blocks * U)
        width = D * U
    return total + D * U * cfg.horizon + cfg.horizon


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB" if n_bytes >= 2**29 else f"{n_bytes / 2**20:.1f} MiB"


@dataclass(frozen=True)
class Estimate:
    """What one model / run would cost, next to the limits it is checked against."""

    params: int                  # trainable parameters (exact)
    step_work: float             # work units of one optimiser step (see the module docstring)
    window_epochs: int           # training windows * epochs
    memory_bytes: int            # estimated peak memory of the run (bytes)
    limits: "Limits"

    def problems(self) -> list[str]:
        """One fix-it sentence per exceeded limit (empty when everything fits)."""
        lim, out = self.limits, []
        if self.params > lim.max_params:
            out.append(f"the model has {self.params:,} parameters, over the limit of "
                       f"{lim.max_params:,}: lower the hidden units or the number of layers, "
                       f"or turn off bidirectional")
        if self.step_work > lim.max_step_work:
            out.append(f"one training step would cost {self.step_work:.3g} work units "
                       f"(lookback x (parameters x batch + per-step overhead)), over the limit of "
                       f"{lim.max_step_work:.3g} (about a second): lower the batch size, the "
                       f"lookback or the model size")
        if self.window_epochs > lim.max_window_epochs:
            out.append(f"the run would train on {self.window_epochs:,} windows (windows x "
                       f"epochs), over the limit of {lim.max_window_epochs:,}: lower the epochs, "
                       f"or use a larger stride on the Data page")
        if self.memory_bytes > lim.max_memory_bytes:
            out.append(f"it would need about {_gib(self.memory_bytes)} of memory, over the limit "
                       f"of {_gib(lim.max_memory_bytes)}: lower the batch size, the lookback or "
                       f"the model size")
        return out

    @property
    def ok(self) -> bool:
        """True when every estimate is within its limit."""
        return not self.problems()

    def rows(self) -> list[dict]:
        """A table for the UI: what, estimate, limit, within (one dict per limit)."""
        lim = self.limits
        return [
            {"what": "parameters", "estimate": f"{self.params:,}", "limit": f"{lim.max_params:,}",
             "within": self.params <= lim.max_params},
            {"what": "work per step (units)", "estimate": f"{self.step_work:.3g}",
             "limit": f"{lim.max_step_work:.3g}", "within": self.step_work <= lim.max_step_work},
            {"what": "windows x epochs", "estimate": f"{self.window_epochs:,}",
             "limit": f"{lim.max_window_epochs:,}",
             "within": self.window_epochs <= lim.max_window_epochs},
            {"what": "memory (estimate)", "estimate": _gib(self.memory_bytes),
             "limit": _gib(lim.max_memory_bytes),
             "within": self.memory_bytes <= lim.max_memory_bytes},
        ]


@dataclass(frozen=True)
class Limits:
    """The server's resource limits; one instance is applied wherever a model is built.

    Parameters
    ----------
    max_params : int
        Trainable parameters of one model (5 M: 20 MB of weights, ~120 MB while training).
    max_step_work : float
        Work units of one optimiser step (see the module docstring); 1.5e9 is about one second
        on one CPU core, so a step (the unit Stop and Pause wait for) stays short.
    max_window_epochs : int
        Training windows times epochs of one run.
    max_memory_bytes : int
        Estimated peak memory of one run (2 GiB).
    """

    max_params: int = 5_000_000
    max_step_work: float = 1.5e9
    max_window_epochs: int = 50_000_000
    max_memory_bytes: int = 2 * 2**30

    @classmethod
    def from_env(cls, environ=None) -> "Limits":
        """Defaults overridden by ``GRU_LAB_MAX_PARAMS``, ``GRU_LAB_MAX_STEP_WORK``,
        ``GRU_LAB_MAX_WINDOW_EPOCHS`` and ``GRU_LAB_MAX_MEMORY_BYTES`` (numbers such as ``2e7``).
        """
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            key = ENV_PREFIX + f.name.upper()
            raw = env.get(key)
            if raw is None or not str(raw).strip():
                continue
            try:
                value = float(str(raw).replace("_", ""))
            except ValueError:
                value = float("nan")
            if not value > 0 or value == float("inf"):
                raise DataError(f"The environment variable {key}={raw!r} is not a positive number. "
                                f"Set it to e.g. {getattr(cls, f.name):g} or unset it.")
            values[f.name] = value if f.name == "max_step_work" else int(value)
        return cls(**values)

    def estimate(self, model_cfg: ModelConfig, lookback: int = 1, batch_size: int = 1,
                 n_windows: int = 0, epochs: int = 0) -> Estimate:
        """Estimate a model (and, with lookback/batch/windows/epochs, a training run of it).

        For a model that is only evaluated (Gates, a loaded bundle) pass ``lookback`` and the
        batch of windows evaluated at once; ``n_windows`` and ``epochs`` stay 0.
        """
        model_cfg.validate()
        L, B = max(int(lookback), 1), max(int(batch_size), 1)
        P = n_params(model_cfg)
        U, K, D, C = (model_cfg.hidden_size, model_cfg.num_layers, model_cfg.num_directions,
                      model_cfg.input_size)
        step = float(L) * (float(P) * B + STEP_OVERHEAD * K * D)
        floats = ACTIVATION_FLOATS.get(model_cfg.cell, 5 * CELLS[model_cfg.cell].blocks)
        memory = 4 * (WEIGHT_COPIES * P + floats * B * L * D * U * K + B * L * C)
        return Estimate(params=P, step_work=step, window_epochs=int(n_windows) * int(epochs),
                        memory_bytes=int(memory), limits=self)

    def check(self, model_cfg: ModelConfig, lookback: int = 1, batch_size: int = 1,
              n_windows: int = 0, epochs: int = 0, what: str = "This model") -> Estimate:
        """:meth:`estimate`, raising :class:`DataError` when a limit is exceeded.

        The message names each exceeded limit and the setting to lower; a bigger machine can
        raise the limits with the ``GRU_LAB_MAX_*`` environment variables.
        """
        est = self.estimate(model_cfg, lookback, batch_size, n_windows, epochs)
        problems = est.problems()
        if problems:
            raise DataError(f"{what} is too big for this server: {'; '.join(problems)}. (The server "
                            f"admin can raise the limits with the {ENV_PREFIX}MAX_* environment "
                            f"variables.)")
        return est
