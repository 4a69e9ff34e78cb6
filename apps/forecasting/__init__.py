"""Time-series forecasting for ``zoo forecast``: CSV loading and validation (dates, long format,
known-future covariates), scaling, windowing, models (DLinear-style linear, patch transformer, LSTM,
quantile heads), baselines, ``--model auto``, prediction intervals, metrics, backtests, plots, and the
Python API :class:`Forecaster` (``apps.forecasting.api``).

Every data problem raises :class:`ForecastDataError` (a ValueError) with a message meant for
the command line; the CLI turns it into a clean error instead of a traceback.
"""
from .data import ForecastDataError  # noqa: F401  (light: no numpy-heavy imports at package import)


def __getattr__(name):  # the Python API, imported on first use (it pulls in numpy and the engine)
    if name == "Forecaster":
        from .api import Forecaster

        return Forecaster
    raise AttributeError(f"module 'apps.forecasting' has no attribute {name!r}")
