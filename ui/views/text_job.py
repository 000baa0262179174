"""The Text page's training job: a language-model run submitted to the server's scheduler.

:func:`start` builds the data, the :class:`gru_core.text.LMTask` and its ``LiveSampler`` from the
settings (so a text too short for one batch is refused at once) and queues a :class:`TextSpec`
for this session (``ui.server.submit``); the scheduler builds the ``TrainingRun.for_task`` when a
training slot is free. :class:`TextJob` keeps the scheduler's handle (``run``: TrainingRun's
interface, state "queued" while it waits) under ``st.session_state["text_job"]`` and in the
session's server record, so a reload finds it. The training thread never calls Streamlit.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import streamlit as st

from gru_core.errors import DataError
from gru_core.jobs import JobHandle
from gru_core.limits import STEP_OVERHEAD, n_params
from gru_core.model import ModelConfig
from gru_core.scheduler import QueueFull, SessionBusy
from gru_core.text import LiveSampler, LMTask, TextConfig, TextData, text_dataset
from gru_core.text.batches import batches_per_epoch
from gru_core.train import TrainConfig, TrainingRun
from ui import server

log = logging.getLogger("gru_lab")
ss = st.session_state
JOB = "text_job"
SAMPLE_EVERY_S = 3.0                  # the live sample is rewritten this often (run time)
RUNNING_POLL_S = 1.0                  # the live view's refresh while the run trains


def text_params(cfg: TextConfig, vocab_size: int) -> int:
    """Trainable parameters of ``CharLM(cfg, vocab_size)``, counted without building it: the
    recurrent layers and the (U -> V) head as ``gru_core.limits.n_params`` counts a forecaster's
    (input width = the embedding or the one-hot V, horizon = V), plus the embedding table."""
    width = cfg.embed_dim or vocab_size
    rnn = ModelConfig(input_size=width, hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
                      horizon=vocab_size, cell=cfg.cell)
    return n_params(rnn) + vocab_size * cfg.embed_dim


@dataclass
class TextSpec:
    """A language-model run as the scheduler queues it (local only: its sampler writes from the
    model in the training thread, and the page reads the model)."""

    cfg: TextConfig
    train_cfg: TrainConfig
    n_train: int                      # training characters
    vocab_size: int
    budget_s: float | None = None     # the page's time limit (caps the run-time estimate)
    task: LMTask | None = None        # None: a plan for the limits line, never queued
    live: LiveSampler | None = None
    local_only = True

    def build(self) -> TrainingRun:
        run = TrainingRun.for_task(self.task, self.train_cfg, on_progress=self.live)
        self.live.stop = run.stop
        return run

    def steps_per_epoch(self) -> int:
        c = self.cfg
        return batches_per_epoch(self.n_train, c.seq_len, c.batch_size, c.sampling)

    def params(self) -> int:
        return text_params(self.cfg, self.vocab_size)

    def work(self) -> float:
        """Parameters x training sequences x epochs (the forecaster's windows are sequences here)."""
        return float(self.params()) * self.steps_per_epoch() * self.cfg.batch_size \
            * self.train_cfg.epochs

    def cost(self) -> float:
        """Steps x sequence length x (parameters x batch + per-timestep overhead x layers), in
        ``gru_core.limits`` step-work units, as ``ForecastSpec.cost``."""
        c = self.cfg
        per_step = c.seq_len * (float(self.params()) * c.batch_size + STEP_OVERHEAD * c.num_layers)
        return self.steps_per_epoch() * self.train_cfg.epochs * per_step

    def nbytes(self) -> int:
        """Weights (float32) and the corpus as ids (int64)."""
        return 4 * self.params() + 8 * int(self.n_train * 10 / 9)


@dataclass
class TextJob:
    """One language-model run and what is needed to read its model."""

    run: JobHandle                    # the scheduler's handle (TrainingRun's interface)
    task: LMTask | None               # None once the result was evicted
    data: TextData
    cfg: TextConfig
    train_cfg: TrainConfig
    live: LiveSampler
    source: str
    budget_s: float | None
    started: float = field(default_factory=time.time)

    @property
    def model(self):
        """The trained model; None once the scheduler has dropped the result to stay within its
        memory bound (``run.evicted``): then this job lets go of it too (its end message says so)."""
        if getattr(self.run, "evicted", False):
            self.task = None
            self.live.model = None
        return None if self.task is None else self.task.model


def job() -> TextJob | None:
    return ss.get(JOB)


def is_running() -> bool:
    """The text run is queued, training or paused."""
    j = job()
    return bool(j and j.run.running)


def weights_stable(j: TextJob) -> bool:
    """The model may be read: the run has trained and ended, or it is paused (its thread is
    blocked); never while it waits in the queue."""
    p = j.run.snapshot()
    return (p.state not in ("running", "idle", "queued") and (p.step > 0 or p.state == "paused")
            and j.model is not None)


def start(text: str, source: str, configs) -> None:
    """Build the data, task and sampler from the settings (``configs()``: text config, train
    config, budget) and queue the run on the server's scheduler (see the module docstring)."""
    from ui.views.text import sample_settings

    if is_running():
        raise DataError("A text run is already in progress: stop it first.")
    cfg, tc, budget = configs
    data = text_dataset(text, cfg)
    task = LMTask(data, cfg, seed=tc.seed)
    live = LiveSampler(task.model, data.vocab, every_s=SAMPLE_EVERY_S, budget_s=budget,
                       settings=sample_settings())
    spec = TextSpec(cfg, tc, data.train.numel(), len(data.vocab), budget, task=task, live=live)
    handle, = server.submit([spec], label=f"text: {source}", page="text")
    server.keep(JOB, TextJob(run=handle, task=task, data=data, cfg=cfg, train_cfg=tc, live=live,
                             source=source, budget_s=budget))
    ss.pop("text_generated", None)


def on_start(text: str, source: str) -> None:
    from ui.views.text import configs

    ss["text_start_error"] = None
    try:
        start(text, source, configs())
    except (SessionBusy, QueueFull, DataError) as exc:   # busy: a second Start replaces the run
        ss["text_start_error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 -- a message, never a traceback
        log.exception("Could not start the text run")
        ss["text_start_error"] = f"Training could not start: {type(exc).__name__}: {exc}."


def on_control(action: str) -> None:
    if (j := job()) is not None:
        getattr(j.run, action)()


def poll_s() -> float | None:
    """The live view's refresh: every 2 s while queued, every second while training."""
    j = job()
    return server.poll_s([j.run] if j is not None else [], RUNNING_POLL_S)
