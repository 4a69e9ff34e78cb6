"""Different optimizers for different variables: Keras's ``OptimizerMap`` and ``MultiOptimizer``."""
from __future__ import annotations

import re
from collections.abc import MutableMapping

import numpy as np

from .. import backend
from .base_optimizer import Optimizer
from .loss_scale_optimizer import LossScaleOptimizer


def _path(variable) -> str:
    return str(getattr(variable, "path", None) or getattr(variable, "name", "") or "")


class OptimizerMap(MutableMapping):
    """Variable path patterns -> optimizers: a variable gets the optimizer of the exact path, else
    of the one pattern that fully matches it (``re.fullmatch``), else ``default_optimizer``."""

    def __init__(self, default_optimizer, optimizer_map=None):
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError(f"default_optimizer must be a Keras Optimizer instance. Received: {default_optimizer}")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(f"optimizer_map must be a dictionary. Received: {optimizer_map}")
        self._default_optimizer = default_optimizer
        self._optimizer_map = {}
        for key, opt in (optimizer_map or {}).items():
            self[key] = opt

    @property
    def default_optimizer(self):
        return self._default_optimizer

    def __getitem__(self, key):
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [pattern for pattern in self._optimizer_map if re.fullmatch(pattern, key)]
        if len(matching) > 1:
            raise ValueError(f"Multiple optimizers assigned to variable {key}.")
        return self._optimizer_map[matching[0]] if matching else self._default_optimizer

    def __setitem__(self, key, optimizer):
        if key in self._optimizer_map:
            raise ValueError(f"'{key}' already exists in the OptimizerMap with value {self._optimizer_map[key]}. "
                             "Please make sure to not use duplicated keys.")
        if not isinstance(key, str):
            raise ValueError(f"key must be a string. Received: {key}")
        if not isinstance(optimizer, Optimizer):
            raise ValueError(f"optimizer must be a Keras Optimizer instance. Received: {optimizer}")
        if isinstance(optimizer, (LossScaleOptimizer, MultiOptimizer)):
            raise ValueError(f"optimizer cannot be {type(optimizer).__name__}.")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key):
        del self._optimizer_map[key]

    def __len__(self):
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable):
        return self[_path(variable)]

    def get_config(self):
        from . import serialize  # the package's lookup (it imports this module)

        return {"default_optimizer": serialize(self._default_optimizer),
                "optimizer_map": {k: serialize(v) for k, v in self._optimizer_map.items()}}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import deserialize  # the package's lookup (it imports this module)

        default = deserialize(config["default_optimizer"], custom_objects=custom_objects)
        mapping = {k: deserialize(v, custom_objects=custom_objects) for k, v in (config.get("optimizer_map") or {}).items()}
        return cls(default, mapping)


class MultiOptimizer(Optimizer):
    """Applies each variable's gradient with the optimizer ``optimizer_map(variable)`` gives it
    (an ``OptimizerMap`` or any callable). ``iterations`` counts the ``apply`` calls;
    ``variables()`` is ``[iteration, learning_rate]`` followed by each inner optimizer's, in the
    order the optimizers were first used; the learning rate lives on the inner optimizers."""

    def __init__(self, optimizer_map, loss_scale_factor=None, name=None):
        if not callable(optimizer_map):
            raise TypeError(f"optimizer_map must be an OptimizerMap or a callable(variable) -> Optimizer, "
                            f"received {optimizer_map!r}")
        self._inner_optimizers = []
        super().__init__(learning_rate=0.0, loss_scale_factor=loss_scale_factor, name=name)
        self._optimizer_map = optimizer_map
        candidates = list(optimizer_map.values()) if hasattr(optimizer_map, "values") else []
        default = getattr(optimizer_map, "default_optimizer", None)
        for opt in candidates + ([default] if default is not None else []):
            if all(opt is not o for o in self._inner_optimizers):
                opt.loss_scale_factor = loss_scale_factor
                self._inner_optimizers.append(opt)
        self._assignment = {}  # id(variable) -> index of its optimizer
        self._variables_built = []

    @property
    def optimizers(self):
        return list(self._inner_optimizers)

    @property
    def learning_rate(self):
        raise AttributeError("Learning rate cannot be accessed on a MultiOptimizer. Access the learning rate on the "
                             "individual sub-optimizers instead.")

    @learning_rate.setter
    def learning_rate(self, value):
        raise AttributeError("Learning rate cannot be set on a MultiOptimizer. Set the learning rate on the "
                             "individual sub-optimizers instead.")

    @property
    def loss_scale_factor(self):
        return getattr(self, "_loss_scale_factor", None)

    @loss_scale_factor.setter
    def loss_scale_factor(self, value):
        self._loss_scale_factor = value
        for opt in getattr(self, "_inner_optimizers", []):
            opt.loss_scale_factor = value

    @property
    def iterations(self):
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        self._iterations = int(value)

    def _optimizer_index(self, variable):
        opt = self._optimizer_map(variable)
        if not isinstance(opt, Optimizer):
            raise ValueError(f"Optimizer for variable {_path(variable)!r} is not an Optimizer instance.")
        if isinstance(opt, (LossScaleOptimizer, MultiOptimizer)):
            raise ValueError(f"{type(opt).__name__} cannot be used inside a MultiOptimizer.")
        for i, o in enumerate(self._inner_optimizers):
            if o is opt:
                return i
        opt.loss_scale_factor = self.loss_scale_factor
        self._inner_optimizers.append(opt)
        return len(self._inner_optimizers) - 1

    def build(self, params) -> None:
        if self.built:
            return
        params = list(params)
        groups = [[] for _ in self._inner_optimizers]
        for p in params:
            idx = self._optimizer_index(p)
            while len(groups) <= idx:
                groups.append([])
            self._assignment[id(p)] = idx
            groups[idx].append(p)
        for opt, variables in zip(self._inner_optimizers, groups):
            if variables:
                opt.build(variables)
        self._variables_built = params
        self.built = True

    def apply(self, grads, params=None) -> None:
        grads = list(grads)
        if not grads:
            return
        if params is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be built on a "
                                 "list of variables. Call `optimizer.build(trainable_variables)` first.")
            params = self._variables_built
        params = list(params)
        self.build(params)
        if len(grads) != len(self._variables_built):
            raise ValueError(f"Gradients must match trainable variables one-to-one. Received {len(grads)} gradients "
                             f"and {len(self._variables_built)} variables.")
        per_opt = [([], []) for _ in self._inner_optimizers]
        for g, p in zip(grads, params):
            if id(p) not in self._assignment:
                raise ValueError(f"MultiOptimizer: variable {_path(p)!r} was not among those it was built with")
            gs, ps = per_opt[self._assignment[id(p)]]
            gs.append(g)
            ps.append(p)
        for opt, (gs, ps) in zip(self._inner_optimizers, per_opt):
            if ps:
                opt.apply(gs, ps)
        self._iterations += 1

    def finalize_variable_values(self, var_list) -> None:
        per_opt = [[] for _ in self._inner_optimizers]
        for p in var_list:
            per_opt[self._assignment[id(p)]].append(p)
        for opt, ps in zip(self._inner_optimizers, per_opt):
            if ps:
                opt.finalize_variable_values(ps)

    def to(self, device):
        for opt in self._inner_optimizers:
            opt.to(device)
        return self

    def _own_entries(self):
        return [("iteration", lambda: np.asarray(self._iterations, dtype=np.int64), self._set_iterations),
                ("learning_rate", lambda: np.asarray(0.0, dtype=backend.floatx()), lambda v: None)]

    def _state_entries(self) -> list:
        entries = self._own_entries()
        for opt in self._inner_optimizers:
            if opt.built:
                entries += opt._state_entries()
        return entries

    def set_variables(self, arrays, params=None) -> None:
        if params is not None:
            self.build(params)
        if not self.built:
            raise ValueError("MultiOptimizer.set_variables: the optimizer is not built; pass `params`")
        arrays = list(arrays)
        own = self._own_entries()
        expected = len(self._state_entries())
        if len(arrays) != expected:
            raise ValueError(f"MultiOptimizer.set_variables: expected {expected} arrays, received {len(arrays)}")
        own[0][2](arrays[0])
        at = len(own)
        for opt in self._inner_optimizers:
            if opt.built:
                n = len(opt._state_entries())
                opt.set_variables(arrays[at:at + n])
                at += n

    def get_config(self):
        if not isinstance(self._optimizer_map, OptimizerMap):
            raise NotImplementedError("MultiOptimizer.get_config: only an OptimizerMap can be serialized; a callable "
                                      "optimizer_map cannot be saved")
        return {"optimizer_map": {"module": "keras.optimizers", "class_name": "OptimizerMap",
                                  "config": self._optimizer_map.get_config(), "registered_name": None},
                "loss_scale_factor": self.loss_scale_factor, "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        m = config["optimizer_map"]
        if isinstance(m, dict):
            m = OptimizerMap.from_config(m.get("config", m), custom_objects=custom_objects)
        config["optimizer_map"] = m
        return cls(**config)

    def __repr__(self):
        return f"<MultiOptimizer name={self.name!r} optimizers={self._inner_optimizers!r}>"
