"""Every Plotly figure GRU Lab draws, built in one package so all pages share one theme.

Functions take plain numpy / pandas data (never Streamlit objects) and return a
``plotly.graph_objects.Figure``; pages only call ``st.plotly_chart(fig)``. Arrays are passed to
Plotly as float32 numpy arrays (compact encoding; DESIGN.md §4), long lines use ``Scattergl``.

One module per page, on one theme; every public name is re-exported here, so pages write
``from gru_core import charts; charts.loss_figure(...)``:

- :mod:`~gru_core.charts.theme` -- ``COLORS``, ``FONT``, :func:`themed`, :func:`line`,
  :func:`as_f32`, :func:`scale_fonts` (presentation mode) and display helpers (decimation,
  date axes, unit labels);
- :mod:`~gru_core.charts.data` -- the series with its split and an example window;
- :mod:`~gru_core.charts.train` -- the live loss curves and their smoothing (:func:`ema`);
- :mod:`~gru_core.charts.forecast` -- forecasts, residuals, error by horizon step, the future;
- :mod:`~gru_core.charts.gates` -- gate heatmaps (with a timestep cursor) and chosen units' gates.

Pages beyond the first four keep their figures in their own module, imported by name
(``from gru_core.charts import cell as charts_cell``): :mod:`~gru_core.charts.cell` (Cell, Compare,
Memory), and likewise ``text`` and ``lab``.
"""
from gru_core.charts.data import (DISPLAY_POINTS, SPLIT_LABELS, WINDOW_COLORS, series_figure,
                                  window_figure)
from gru_core.charts.forecast import (forecast_step_figure, forecast_window_figure, future_figure,
                                      mae_by_step_figure, residual_figures)
from gru_core.charts.gates import (CURSOR, FAST_HEATMAP, GATE_RANGE, GATE_SCALE, gate_heatmaps,
                                   gate_lines_figure, set_cursor)
from gru_core.charts.theme import (COLORS, FONT, LEGEND_BELOW, LONG_LINE, PRESENT_SCALE,
                                   SPLIT_FILL, as_f32, display_indices, is_dates, line,
                                   plain_labels, scale_fonts, themed, units_label, x_values)
from gru_core.charts.train import LOSS_POINTS, ema, loss_figure

__all__ = [
    "COLORS", "FONT", "LEGEND_BELOW", "LONG_LINE", "PRESENT_SCALE", "SPLIT_FILL", "as_f32", "display_indices",
    "is_dates", "line", "plain_labels", "scale_fonts", "themed", "units_label", "x_values",
    "DISPLAY_POINTS", "SPLIT_LABELS", "WINDOW_COLORS", "series_figure", "window_figure",
    "LOSS_POINTS", "ema", "loss_figure",
    "forecast_step_figure", "forecast_window_figure", "future_figure", "mae_by_step_figure",
    "residual_figures",
    "CURSOR", "FAST_HEATMAP", "GATE_RANGE", "GATE_SCALE", "gate_heatmaps", "gate_lines_figure",
    "set_cursor",
]
