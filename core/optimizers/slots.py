"""Per-parameter slot variables (momentum, Adam's m/v, ...): creation in Keras's order,
lookup, device moves and reset."""
from __future__ import annotations

from .. import backend
from ..backend import get_xp


class SlotsMixin:
    """Slots of an ``Optimizer``: ``_slots[name][i]`` belongs to ``_params[i]``."""

    def _slot_groups(self) -> list:
        """Slot variables as groups of ``(name, initial_value)``; Keras creates each group's slots
        interleaved per variable (m0, v0, m1, v1), one group after the other."""
        return []

    def _all_slot_groups(self) -> list:
        groups = []
        if self.use_ema:
            groups.append((("average", 0.0),))
        if self.gradient_accumulation_steps:
            groups.append((("gradient_accumulator", 0.0),))
        return groups + list(self._slot_groups())

    def _extra_variables(self) -> list:
        """Optimizer-wide (not per-parameter) state after the slots: ``[(name, getter, setter)]``."""
        return []

    def build(self, params) -> None:
        """Create the slots of the parameters not seen yet (in order). Idempotent."""
        params = list(params)
        groups = self._all_slot_groups()
        added = False
        for p in params:
            if id(p) in self._index:
                continue
            added = True
            if not hasattr(p, "data") or not backend.is_array(p.data) or p.data.dtype.kind != "f":
                raise ValueError(f"{type(self).__name__}: can only optimize floating Parameters, received {p!r}")
            self._index[id(p)] = len(self._params)
            self._params.append(p)
            xp = get_xp(p.data)
            for group in groups:
                for slot, init in group:
                    self._slots.setdefault(slot, []).append(self._new_slot(slot, init, p, xp))
        if not self.built:
            self._build_extra(params)
        self.built = True
        if added and self._fused_slots:
            self._pack_slots()

    def _new_slot(self, slot, init, p, xp):
        """The initial array of slot ``slot`` of parameter ``p`` (shaped like it unless overridden)."""
        return xp.zeros_like(p.data) if init == 0 else xp.full_like(p.data, init)

    def _slot_variable_name(self, ref, slot) -> str:
        """Keras's name of a slot variable (``dense_kernel_momentum``)."""
        return f"{ref}_{slot}"

    def to(self, device):
        """Move the per-parameter state (slots) to ``device``; returns the optimizer."""
        dev = backend.get_device(device)
        for name, arrays in self._slots.items():
            self._slots[name] = [a if a is None or backend.device_of(a) == dev else backend.to_device(a, dev)
                                 for a in arrays]
        if self._fused_slots and self._params:
            self._pack_slots()  # flat buffers on the new device (views of them become the slots)
        return self

    def _build_extra(self, params) -> None:
        """Create optimizer-wide state on the first build (see Nadam)."""

    def _slot(self, name, variable):
        return self._slots[name][self._index[id(variable)]]

    def _reset_state(self) -> None:
        self._params, self._index, self._slots = [], {}, {}
        self._flat = None
        self._wd_cache = {}
        self.built = False
