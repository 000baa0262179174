"""The scheduler's settings: :class:`SchedulerConfig`, from defaults, a TOML file and the environment.

    cfg = SchedulerConfig.load()                      # defaults + GRU_LAB_* variables (ENV)
    cfg = SchedulerConfig.load(path=".streamlit/gru_lab.toml")   # + its [scheduler] table

Streamlit refuses unknown options in ``.streamlit/config.toml`` (a warning per option), so the
file form lives in a file of its own; ``GRU_LAB_RAY_ADDRESS`` chooses the Ray backend.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from gru_core.errors import DataError

RAY_ENV = "GRU_LAB_RAY_ADDRESS"
ENV = {"max_running": "GRU_LAB_MAX_RUNS", "max_queue": "GRU_LAB_MAX_QUEUE",
       "wall_limit_s": "GRU_LAB_RUN_TIME_LIMIT_S", "max_work": "GRU_LAB_MAX_WORK",
       "lease_s": "GRU_LAB_LEASE_S", "keep_results": "GRU_LAB_KEEP_RESULTS",
       "result_ttl_s": "GRU_LAB_RESULT_TTL_S", "max_result_bytes": "GRU_LAB_MAX_RESULT_BYTES"}


@dataclass
class SchedulerConfig:
    """The server's queue settings (environment: :data:`ENV`; file: ``[scheduler]`` of a TOML).

    Parameters
    ----------
    max_running : int
        Jobs that train at once; 0 = the number of CPU cores (Ray: the cluster's CPUs).
    max_queue : int
        Jobs that may wait; a submit beyond it raises :class:`QueueFull`.
    wall_limit_s : float
        Wall-clock seconds one job may run (pauses included), then it is stopped.
    max_work : float
        Size limit of one job: parameters x training windows x epochs.
    lease_s : float
        A session's jobs stop when it has not renewed its lease for this long.
    keep_results, result_ttl_s, max_result_bytes
        Ended jobs kept (LRU): how many, for how long since last use, and their total size.
    rate : float
        First guess of training speed for run-time estimates, in ``spec.cost()`` units per second
        (``gru_core.limits`` step work: about 1e9 per second on one core); each ended job's
        measured speed replaces half of it.
    """

    max_running: int = 0                # 0 = core count
    max_queue: int = 64                 # waiting jobs
    wall_limit_s: float = 900.0         # 15 min per run
    max_work: float = 2e11              # parameters x windows x epochs
    lease_s: float = 60.0               # session lease
    keep_results: int = 32              # ended jobs kept for reloads
    result_ttl_s: float = 3600.0        # ... for an hour since last use
    max_result_bytes: int = 1 << 30     # ... 1 GiB in all
    rate: float = 1e9                   # cost units / s (first guess)

    def resolved_max_running(self) -> int:
        return self.max_running if self.max_running > 0 else max(os.cpu_count() or 1, 1)

    @classmethod
    def load(cls, environ=None, path: str | Path | None = None) -> "SchedulerConfig":
        """Defaults, then ``[scheduler]`` of the TOML file ``path`` (if it exists), then :data:`ENV`.

        Raises
        ------
        DataError
            A value that is not a non-negative number (the message names the variable).
        """
        env = os.environ if environ is None else environ
        values: dict = {}
        if path is not None and Path(path).is_file():
            import tomllib

            values.update(tomllib.loads(Path(path).read_text()).get("scheduler", {}))
        for name, var in ENV.items():
            if str(env.get(var, "")).strip():
                values[name] = env[var]
        cfg = cls()
        for f in fields(cls):
            if f.name not in values:
                continue
            raw, kind = values[f.name], type(getattr(cfg, f.name))
            try:
                value = kind(float(str(raw).replace("_", "")))
            except ValueError:
                value = -1
            if value < 0:
                raise DataError(f"Scheduler setting {f.name} ({ENV.get(f.name, f.name)}) must be "
                                f"a number >= 0; got {raw!r}. Unset it for the default "
                                f"{getattr(cfg, f.name)!r}.")
            setattr(cfg, f.name, value)
        return cfg
