"""Reading and restoring an optimizer's state in Keras's variable order (saving, resuming)."""
from __future__ import annotations

import numpy as np

from .. import backend
from .arguments import _is_number
from .numerics import _assign


class StateIOMixin:
    """``variables()`` / ``set_variables()`` / ``save_own_variables()`` / ``load_own_variables()``."""

    def _state_entries(self) -> list:
        """``[(name, get, set)]`` for every state variable, in Keras's order."""
        entries = [("iteration", lambda: np.asarray(self._iterations, dtype=np.int64), self._set_iterations)]
        if _is_number(self._learning_rate):
            entries.append(("learning_rate", lambda: np.asarray(self._learning_rate, dtype=backend.floatx()),
                            self._set_lr_from_state))
        for group in self._all_slot_groups():
            for i, p in enumerate(self._params):
                ref = (getattr(p, "path", None) or p.name or "variable").replace("/", "_").replace(":", "_")
                for slot, _ in group:
                    arr = self._slots[slot][i]
                    if arr is None:  # a slot this parameter does not have (Muon's velocity)
                        continue
                    entries.append((self._slot_variable_name(ref, slot), (lambda a=arr: a),
                                    (lambda v, a=arr: _assign(a, v))))
        return entries + self._extra_variables()

    def _set_iterations(self, value):
        self._iterations = int(backend.to_numpy(getattr(value, "data", value)).reshape(()))

    def _set_lr_from_state(self, value):
        v = float(backend.to_numpy(getattr(value, "data", value)).reshape(()))
        # keep the exact Python float when the stored (float32) value is just its rounding
        if not (_is_number(self._learning_rate)
                and np.asarray(self._learning_rate, dtype=backend.floatx()) == np.asarray(v, dtype=backend.floatx())):
            self._learning_rate = v

    def variables(self) -> list:
        """The optimizer state in Keras's order: ``iteration`` (int64), ``learning_rate`` (floatx,
        only when it is a float), then the slots group by group (e.g. Adam: m, v of each
        parameter, then each AMSGrad v_hat), then optimizer-wide state (Nadam's u_product).
        Slot arrays are the live state (copy them to keep a snapshot)."""
        return [get() for _, get, _ in self._state_entries()]

    def variable_names(self) -> list:
        """Keras's names for ``variables()`` (``iteration``, ``learning_rate``, ``dense_kernel_momentum``...)."""
        return [name for name, _, _ in self._state_entries()]

    def set_variables(self, arrays, params=None) -> None:
        """Restore ``variables()`` output. ``params`` (the parameters, in the order the state was
        built with) builds the optimizer first; when they differ from the ones it holds, its
        state is reset to them."""
        if params is not None:
            params = list(params)
            if [id(p) for p in params] != [id(p) for p in self._params]:
                self._reset_state()
            self.build(params)
        elif not self.built:
            raise ValueError(f"{type(self).__name__}.set_variables: the optimizer is not built; pass `params` "
                             "(or call build(params) first)")
        arrays = list(arrays)
        entries = self._state_entries()
        if len(arrays) != len(entries):
            raise ValueError(f"{type(self).__name__}.set_variables: expected {len(entries)} arrays "
                             f"({[n for n, _, _ in entries]}), received {len(arrays)}")
        for (name, get, _), value in zip(entries, arrays):
            shape = tuple(getattr(value, "shape", np.shape(value)))
            if shape != tuple(get().shape):
                raise ValueError(f"{type(self).__name__}.set_variables: variable {name!r} has shape "
                                 f"{tuple(get().shape)}, received an array of shape {shape}")
        for (_, _, setter), value in zip(entries, arrays):
            setter(value)

    def save_own_variables(self, store) -> None:
        """Keras-style: ``store["0"], store["1"], ...`` = ``variables()`` as NumPy arrays."""
        for i, v in enumerate(self.variables()):
            store[str(i)] = backend.to_numpy(v).copy()

    def load_own_variables(self, store) -> None:
        """Keras-style inverse of ``save_own_variables`` (the optimizer must be built)."""
        self.set_variables([store[str(i)] for i in range(len(store.keys()))])
