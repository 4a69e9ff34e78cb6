"""Parametrization helper for the fast loop (``pytest -m "not slow"``)."""
from __future__ import annotations

import pytest


def slow_except(values, fast):
    """``values`` for ``pytest.mark.parametrize`` with every value not in ``fast`` marked slow: the fast
    loop keeps representative cases, the full run (CI) keeps them all. ``fast`` names values that
    exist (a typo would silently move a case to the slow set)."""
    values = list(values)
    missing = [f for f in fast if f not in values]
    if missing:
        raise ValueError(f"slow_except: {missing!r} are not among the parameter values")
    return [v if v in fast else pytest.param(*(v if isinstance(v, tuple) else (v,)), marks=pytest.mark.slow)
            for v in values]
