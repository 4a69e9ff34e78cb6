"""Decoupled weight decay ``p -= p * weight_decay * lr`` with Keras's exclusions."""
from __future__ import annotations

import re

from .numerics import _kcast, _lr_cast


class WeightDecayMixin:
    """``exclude_from_weight_decay`` and the decay step of an ``Optimizer``."""

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Exclude parameters from weight decay: those in ``var_list``, and those whose name
        contains one of ``var_names`` (a regex search on ``p.name``, as Keras does)."""
        self._exclude_ids = {id(v) for v in (var_list or [])}
        names = list(var_names or [])
        self._exclude_pattern = re.compile("|".join(sorted(set(names)))) if names else None
        self._wd_cache = {}

    def _use_weight_decay(self, p) -> bool:
        key = id(p)
        if key not in self._wd_cache:
            use = key not in self._exclude_ids
            if use and self._exclude_pattern is not None:
                use = re.search(self._exclude_pattern, str(getattr(p, "name", "") or "")) is None
            self._wd_cache[key] = use
        return self._wd_cache[key]

    def _apply_weight_decay(self, params) -> None:
        if self.weight_decay is None:
            return
        lr = self.learning_rate
        for p in params:
            if self._use_weight_decay(p):
                t = p.data.dtype.type
                p.data -= p.data * _kcast(t, self.weight_decay) * _lr_cast(t, lr)
