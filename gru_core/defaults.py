"""The default forecasting recipe: one place for the settings the app, the CLI and the benchmark share.

``ui/state.py`` should read its defaults from :data:`DEFAULTS` (the integrator wires that); the
command line (``python -m gru_core forecast``) and ``bench/bench_forecast.py`` use it directly.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from gru_core.model import ModelConfig
from gru_core.train import TrainConfig
from gru_core.windows import SplitConfig, WindowConfig


@dataclass(frozen=True)
class Recipe:
    """Every setting of one default run (data split, windows, transform, model, training)."""

    lookback: int = 24            # L: input steps ("auto" may pick another, on validation only)
    horizon: int = 6              # H: steps forecast at once
    stride: int = 1               # steps between window starts
    train_frac: float = 0.7       # chronological split fractions (test = the rest)
    val_frac: float = 0.15
    scaler: str = "standard"      # fitted on the (transformed) training part only
    transform: str = "auto"       # a key of gru_core.transforms.TRANSFORMS, or "auto"
    cell: str = "gru"
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    # optimiser, learning rate, schedule and batch: TrainConfig's defaults (one recipe; issue 13)
    lr: float = TrainConfig.lr                    # Adam's peak learning rate
    batch_size: int = TrainConfig.batch_size
    schedule: str = TrainConfig.schedule          # per-step warm-up + cosine over the planned steps
    warmup_steps: int = TrainConfig.warmup_steps
    min_lr_frac: float = TrainConfig.min_lr_frac
    epochs: int = 200             # long enough to watch live; early stopping usually ends it
    clip_grad: float = 1.0
    patience: int = 30            # early stopping on the validation loss
    seed: int = 0
    device: str = "auto"
    num_threads: int = 1           # small models: one thread is faster than two on a shared CPU

    def window(self, lookback: int | None = None) -> WindowConfig:
        return WindowConfig(lookback=lookback or self.lookback, horizon=self.horizon, stride=self.stride)

    def split(self) -> SplitConfig:
        return SplitConfig(self.train_frac, self.val_frac, round(1.0 - self.train_frac - self.val_frac, 12))

    def model(self, input_size: int, window_norm: str = "none") -> ModelConfig:
        return ModelConfig(input_size=input_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
                           dropout=self.dropout, horizon=self.horizon, cell=self.cell,
                           window_norm=window_norm)

    def train(self, **overrides) -> TrainConfig:
        cfg = TrainConfig(lr=self.lr, batch_size=self.batch_size, schedule=self.schedule,
                          warmup_steps=self.warmup_steps, min_lr_frac=self.min_lr_frac,
                          epochs=self.epochs,
                          clip_grad=self.clip_grad, patience=self.patience, seed=self.seed,
                          device=self.device, num_threads=self.num_threads)
        return replace(cfg, **overrides)

    def replace(self, **changes) -> "Recipe":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULTS = Recipe()
"""The app's default run (ui/state.py SETTINGS should read these values)."""
