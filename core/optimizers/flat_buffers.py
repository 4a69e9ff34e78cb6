"""Flat slot buffers for fused update rules: a whole-buffer update instead of one per parameter."""
from __future__ import annotations

from ..backend import get_xp


class FlatBuffersMixin:
    """Packs the slots named in ``_fused_slots`` into flat buffers (see ``_pack_slots``)."""

    _fused_slots: tuple = ()  # slot names a fused update works on as whole flat buffers

    _FLAT_MAX = 1 << 16  # parameters up to this size are updated together as one flat segment

    def _pack_slots(self) -> None:
        """Store the slots named in ``_fused_slots`` as views of one flat buffer per slot, with
        flat scratch buffers of the same size, so that an update step is a handful of in-place
        whole-buffer operations instead of a dozen small temporaries per parameter: the small
        parameters (up to ``_FLAT_MAX`` values) form one contiguous segment updated at once (their
        gradients gathered into it), each larger one is updated in place on its own views (no
        copy of its gradient). Only when every parameter has the same dtype and device."""
        self._flat = None
        ps = self._params
        if not ps:
            return
        dt, xp = ps[0].data.dtype, get_xp(ps[0].data)
        if any(p.data.dtype != dt or get_xp(p.data) is not xp for p in ps):
            return
        small = [i for i, p in enumerate(ps) if p.data.size <= self._FLAT_MAX]
        large = [i for i, p in enumerate(ps) if p.data.size > self._FLAT_MAX]
        order = small + large  # the small parameters first: one contiguous segment
        offset, where = 0, {}
        for i in order:
            where[i] = (offset, int(ps[i].data.size))
            offset += int(ps[i].data.size)
        total = offset
        n_small = sum(int(ps[i].data.size) for i in small)

        def views(flat):  # per parameter (in the parameters' order), shaped like it
            return [flat[o:o + n].reshape(ps[i].data.shape) for i, (o, n) in sorted(where.items())]

        flats = {}
        for name in self._fused_slots:
            arrs = self._slots.get(name)
            if arrs is None or len(arrs) != len(ps):
                return
            flat = xp.empty(total, dtype=dt)
            vs = views(flat)
            for v, a in zip(vs, arrs):
                v[...] = a
            self._slots[name] = vs
            flats[name] = flat
        grad, tmp, tmp2 = (xp.empty(total, dtype=dt) for _ in range(3))
        self._flat = {"params": list(ps), "small": small, "large": large, "n_small": n_small,
                      "slots": flats, "grad": grad, "tmp": tmp, "tmp2": tmp2,
                      "grad_views": views(grad), "tmp_views": views(tmp), "tmp2_views": views(tmp2),
                      "slot_views": {name: views(f) for name, f in flats.items()}}

    def _flat_plan(self, params):
        """The flat buffers when ``params`` are exactly the built parameters in order, else None."""
        plan = self._flat
        if plan is None:
            return None
        built = plan["params"]
        if len(params) != len(built) or any(p is not q for p, q in zip(params, built)):
            return None
        return plan

    @staticmethod
    def _segments(plan, grads):
        """``(g, slot_name -> array, tmp, tmp2, [(param index, step view)])`` units of a fused update:
        first the small parameters as one flat segment (their gradients copied into it), then each
        large parameter on its own views."""
        n = plan["n_small"]
        out = []
        if plan["small"]:
            gv = plan["grad_views"]
            for i in plan["small"]:
                gv[i][...] = grads[i]
            if "small_segment" not in plan:
                tv = plan["tmp_views"]
                plan["small_segment"] = (plan["grad"][:n], {k: f[:n] for k, f in plan["slots"].items()},
                                         plan["tmp"][:n], plan["tmp2"][:n], [(i, tv[i]) for i in plan["small"]])
            out.append(plan["small_segment"])
        for i in plan["large"]:
            out.append((grads[i], {k: v[i] for k, v in plan["slot_views"].items()}, plan["tmp_views"][i],
                        plan["tmp2_views"][i], [(i, plan["tmp_views"][i])]))
        return out
