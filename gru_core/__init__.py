"""GRU Lab's engine: data in, windows, GRU forecaster, exact gate traces, trainer, evaluation.

UI-free (never imports streamlit); docs/API.md is the contract of every module. The names a
notebook needs are importable from here::

    import gru_core as gc
    trace = gc.trace_gates(model.rnn, x)   # r, z, n, h: (num_layers, B, T, hidden)

The character-level language model lives in ``gru_core.text`` (its main names are here too;
``gru_core.text.generate`` is ``gc.generate_text``, since ``gc.generate`` makes series).
"""
from gru_core.bundle import Bundle, load_bundle, save_bundle
from gru_core.data import (SampleInfo, Series, Table, handle_missing, list_samples, load_sample,
                           load_table, prepare_series, series_from_array)
from gru_core.device import device_report, resolve_device
from gru_core.errors import BundleError, DataError
from gru_core.evaluate import (Evaluation, detect_season, evaluate, forecast_future, mae, mase,
                               naive_forecast, predict, recursive_forecast, rmse,
                               seasonal_naive_forecast, smape)
from gru_core.explain import explain_step, unit_summary
from gru_core.gates import GateTrace, trace_gates, z_keep_to_write, z_write_to_keep
from gru_core.generators import GENERATORS, Generator, Param, generate
from gru_core.model import CELLS, Forecaster, ModelConfig, init_weights
from gru_core.task import ForecastTask, Task
from gru_core.text import (CharGates, CharLM, CharVocab, LiveSampler, LMTask, ScratchGRU, TextConfig,
                           TextData, char_gates, perplexity, rank_units, text_dataset)
from gru_core.text import generate as generate_text   # gc.generate is the series generator
from gru_core.train import Progress, TrainConfig, TrainingRun
from gru_core.windows import (Dataset, Scaler, SplitConfig, WindowConfig, Windows, make_dataset,
                              min_length)

__all__ = [
    "Bundle", "load_bundle", "save_bundle",
    "SampleInfo", "Series", "Table", "handle_missing", "list_samples", "load_sample", "load_table",
    "prepare_series", "series_from_array",
    "BundleError", "DataError",
    "Evaluation", "detect_season", "evaluate", "forecast_future", "mae", "mase", "naive_forecast",
    "predict", "recursive_forecast", "rmse", "seasonal_naive_forecast", "smape",
    "explain_step", "unit_summary",
    "GateTrace", "trace_gates", "z_keep_to_write", "z_write_to_keep",
    "GENERATORS", "Generator", "Param", "generate",
    "CELLS", "Forecaster", "ModelConfig", "init_weights",
    "ForecastTask", "Progress", "Task", "TrainConfig", "TrainingRun", "device_report", "resolve_device",
    "Dataset", "Scaler", "SplitConfig", "WindowConfig", "Windows", "make_dataset", "min_length",
    "CharGates", "CharLM", "CharVocab", "LiveSampler", "LMTask", "ScratchGRU", "TextConfig", "TextData",
    "char_gates", "generate_text", "perplexity", "rank_units", "text_dataset",
]
