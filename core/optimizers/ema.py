"""Exponential moving average of the parameters (``use_ema``), as Keras keeps it."""
from __future__ import annotations


class EMAMixin:
    """The ``average`` slots, their overwrite frequency and ``finalize_variable_values``."""

    def _update_moving_average(self) -> None:
        for p, avg in zip(self._params, self._slots["average"]):
            t = p.data.dtype.type
            momentum = t(self.iterations != 0) * t(self.ema_momentum)
            avg[...] = momentum * avg + (1 - momentum) * p.data

    def _overwrite_with_average(self, params) -> None:
        for p in params:
            p.data[...] = self._slot("average", p)

    def finalize_variable_values(self, var_list) -> None:
        """With ``use_ema``, overwrite the parameters with their moving averages (end of fit)."""
        if self.use_ema:
            self._overwrite_with_average(list(var_list))
