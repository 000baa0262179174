"""The gate tape: training as a film -- the gates of one fixed probe window at every epoch.

    tape = GateTape(probe_x, max_frames=200)     # probe_x: (1, L, C) one window, scaled units
    tape.record(0, run.model)                    # frame 0: the initial weights
    run.on_epoch_end = tape.record               # then one frame per epoch, from the training thread
    run.start(); ...; tape.frames()              # -> list of Frame, oldest first

A :class:`Frame` holds the epoch, a CPU float32 copy of the model's weights (``state_dict``), the
:class:`gru_core.gates.GateTrace` of the probe window computed by :func:`trace_gates` on exactly
those weights (traced on first read), and the probe window's forecast (scaled units). So a frame can always be
re-checked: load its ``state`` into a fresh model and trace again.

Bounded: at most ``max_frames`` frames. When the tape is full it keeps every second frame (the
first, epoch 0, stays) and from then on records every second epoch it used to record (the stride
doubles each time), so a long run still spans epoch 0 to the end in at most ``max_frames`` frames.
Memory: :meth:`GateTape.frame_bytes` per frame (weights + 4 gate tensors + output), at most
``max_frames`` times that; for the app's default model (32 units, 1 layer, lookback 24) about
50 KB a frame, 10 MB for 200 frames.

Cost: the training thread only copies the weights at each epoch end (microseconds for the
default model; never inside the step loop). The gates are traced from those weights when a frame
is first read (:meth:`GateTape.frames`, in the reader's thread) and then kept. bench/bench_lab.py
measures the throughput ratio with the tape on.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gru_core.errors import DataError
from gru_core.gates import GateTrace, trace_gates
from gru_core.intervene import forecast_from_trace

__all__ = ["Frame", "GateTape", "MAX_FRAMES"]

MAX_FRAMES = 200   # default bound on the frames one tape keeps


@dataclass
class Frame:
    """The probe window seen through the weights at the end of one epoch.

    Attributes
    ----------
    epoch : int
        0 = before training, k = after epoch k.
    state : dict of str to torch.Tensor
        CPU copy of the model's ``state_dict`` at that moment.
    trace : GateTrace
        (K, 1, L, U) gates of the probe window under ``state`` (``trace_gates``); filled in by
        :meth:`GateTape.frames` the first time the frame is read.
    forecast : np.ndarray
        (H,) the probe window's forecast under ``state``, scaled units (filled in likewise).
    """

    epoch: int
    state: dict
    trace: GateTrace | None
    forecast: np.ndarray | None


def _nbytes(t) -> int:
    return 0 if t is None else t.numel() * t.element_size()


class GateTape:
    """Records a :class:`Frame` per epoch (see the module docstring); thread-safe.

    Parameters
    ----------
    probe_x : torch.Tensor
        (1, L, C) or (L, C) the probe window in scaled units (e.g. ``dataset.test.X[i]``).
    max_frames : int
        Bound on the frames kept (at least 3).
    every : int
        Record every ``every``-th epoch to begin with (epoch 0 always, when recorded).
    label : str
        What the probe window is, for captions (e.g. "test window 0, starting 1990-01").
    """

    def __init__(self, probe_x: torch.Tensor, max_frames: int = MAX_FRAMES, every: int = 1,
                 label: str = ""):
        x = torch.as_tensor(probe_x).detach().to("cpu", torch.float32)
        if x.dim() == 2:
            x = x[None]  # (1, L, C)
        if x.dim() != 3 or x.shape[0] != 1:
            raise DataError(f"The probe is one window shaped (lookback, columns); got shape "
                            f"{tuple(probe_x.shape)}. Pass dataset.test.X[i].")
        if not isinstance(max_frames, int) or max_frames < 3:
            raise DataError(f"max_frames must be a whole number of at least 3; got {max_frames!r}.")
        self.probe_x = x.contiguous()  # (1, L, C)
        self.max_frames, self.every, self.label = max_frames, max(int(every), 1), label
        self._frames: list[Frame] = []
        self._lock = threading.Lock()
        self._shadow: nn.Module | None = None  # CPU copy of the model the traces run on
        self._trace_lock = threading.Lock()    # one thread traces at a time (shared shadow)

    def wants(self, epoch: int) -> bool:
        """True if :meth:`record` would keep a frame for ``epoch``."""
        return epoch == 0 or epoch % self.every == 0

    @torch.no_grad()
    def record(self, epoch: int, model: nn.Module) -> bool:
        """Keep a CPU copy of ``model``'s weights as the frame of ``epoch``.

        Called from the training thread (``TrainingRun.on_epoch_end``): it only copies the
        weights; the probe window's gates are traced from them when the frame is first read
        (:meth:`frames`). Returns False (nothing kept) for an epoch the current stride skips.
        """
        if not self.wants(epoch):
            return False
        if not isinstance(getattr(model, "rnn", None), nn.GRU):
            raise DataError("The gate tape records GRU gates; this model's cell is not a GRU. "
                            "Train with cell = GRU to record a tape.")
        state = {k: v.detach().to("cpu", torch.float32, copy=True)
                 for k, v in model.state_dict().items()}
        with self._lock:
            if self._shadow is None:  # once: the architecture the traces are run on
                self._shadow = copy.deepcopy(model).to("cpu", torch.float32).eval()
            self._frames.append(Frame(epoch, state, None, None))
            if len(self._frames) >= self.max_frames:
                self._frames = self._frames[::2]  # keeps frame 0; halves the tape
                self.every *= 2
        return True

    @torch.no_grad()
    def _fill(self, f: Frame) -> None:
        """Trace the probe window on ``f.state`` (caller holds ``_trace_lock``)."""
        shadow = self._shadow
        shadow.load_state_dict(f.state)
        trace = trace_gates(shadow.rnn, self.probe_x)
        f.forecast = forecast_from_trace(shadow, trace)[0].numpy().copy()  # (H,)
        f.trace = trace

    def frames(self) -> list[Frame]:
        """The frames kept so far, oldest first, each with its trace and forecast (traced here,
        in the calling thread, the first time a frame is read)."""
        with self._lock:
            frames = list(self._frames)
        with self._trace_lock:
            for f in frames:
                if f.trace is None:
                    self._fill(f)
        return frames

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def epochs(self) -> list[int]:
        """The epoch of each frame (traces nothing)."""
        with self._lock:
            return [f.epoch for f in self._frames]

    def frame_bytes(self) -> int:
        """Bytes one frame holds (weights, gates, output, forecast); 0 before the first frame."""
        fr = self.frames()
        if not fr:
            return 0
        f = fr[0]
        tr = f.trace
        return (sum(_nbytes(v) for v in f.state.values()) + f.forecast.nbytes
                + sum(_nbytes(getattr(tr, g)) for g in ("r", "z", "n", "h", "r_reverse",
                                                        "z_reverse", "n_reverse", "h_reverse",
                                                        "output", "h_n")))

    def memory_bytes(self) -> int:
        """Bytes the tape holds now (frames times :meth:`frame_bytes`)."""
        return len(self) * self.frame_bytes()
