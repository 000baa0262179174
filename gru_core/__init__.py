"""GRU Lab's engine: data in, windows, GRU forecaster, exact gate traces, trainer, evaluation.

UI-free (never imports streamlit); docs/API.md is the contract of every module. The names a
notebook needs are importable from here::

    import gru_core as gc
    trace = gc.trace_gates(model.rnn, x)   # r, z, n, h: (K, B, T, U)

Symbols, the same in every module's shape comments and docstrings:

    B batch        T time (steps)     C columns (input features)
    L lookback     H horizon          K layers
    U units (hidden_size)             D directions (2 if bidirectional, else 1)
    V vocabulary
"""
from gru_core.bundle import Bundle, load_bundle, save_bundle
from gru_core.data import (SampleInfo, Series, Table, handle_missing, list_samples, load_sample,
                           load_table, prepare_series, series_from_array)
from gru_core.device import device_report, resolve_device
from gru_core.errors import BundleError, DataError
from gru_core.evaluate import (Evaluation, detect_season, evaluate, forecast_future, mae, mase,
                               naive_forecast, predict, predictions_table, recursive_forecast, rmse,
                               seasonal_naive_forecast, smape)
from gru_core.explain import (StepExplanation, explain_step, measured_memory, step_latex,
                              unit_summary)
from gru_core.gates import (EQUATIONS, GateTrace, layer_weights, trace_gates, z_keep_to_write,
                            z_write_to_keep)
from gru_core.generators import GENERATORS, Generator, Param, generate
from gru_core.metrics import METRICS, Metric
from gru_core.model import CELLS, Forecaster, ModelConfig, init_weights
from gru_core.task import ForecastTask, Task
from gru_core.train import Progress, TrainConfig, TrainingRun
from gru_core.verdict import best_baseline, steps_where_model_wins, verdict
from gru_core.windows import (Dataset, Scaler, SplitConfig, WindowConfig, Windows, make_dataset,
                              min_length)

__all__ = [
    "Bundle", "load_bundle", "save_bundle",
    "SampleInfo", "Series", "Table", "handle_missing", "list_samples", "load_sample", "load_table",
    "prepare_series", "series_from_array",
    "BundleError", "DataError",
    "Evaluation", "detect_season", "evaluate", "forecast_future", "mae", "mase", "naive_forecast",
    "predict", "predictions_table", "recursive_forecast", "rmse", "seasonal_naive_forecast", "smape",
    "METRICS", "Metric", "best_baseline", "steps_where_model_wins", "verdict",
    "StepExplanation", "explain_step", "measured_memory", "step_latex", "unit_summary",
    "EQUATIONS", "GateTrace", "layer_weights", "trace_gates", "z_keep_to_write", "z_write_to_keep",
    "GENERATORS", "Generator", "Param", "generate",
    "CELLS", "Forecaster", "ModelConfig", "init_weights",
    "ForecastTask", "Progress", "Task", "TrainConfig", "TrainingRun", "device_report", "resolve_device",
    "Dataset", "Scaler", "SplitConfig", "WindowConfig", "Windows", "make_dataset", "min_length",
]
