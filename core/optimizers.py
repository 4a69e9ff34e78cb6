"""Optimizers with Keras 3 semantics (``keras.optimizers``), updating parameters in place.

``opt.apply(grads, params)`` runs one step exactly as Keras 3 does: drop ``None`` gradients,
clip (``clipnorm`` per gradient, ``global_clipnorm`` across all, or ``clipvalue``
elementwise), decoupled weight decay ``p -= p * weight_decay * lr``, the optimizer's update,
then each parameter's ``constraint``; finally ``iterations += 1``. Updates are plain array
math on ``p.data`` (NumPy or CuPy; no autodiff graph), in the parameter's dtype.

Slot variables (momentum, Adam's m/v, ...) are created per parameter the first time it is
seen, in the parameter's dtype and device. ``variables()`` lists the whole state in Keras's
order (``iteration``, ``learning_rate`` when it is a float, then the slots grouped as Keras
creates them), and ``set_variables(arrays, params)`` restores it, so a resumed run continues
bit for bit.
"""
from __future__ import annotations

import re
import warnings

import numpy as np

from . import backend
from . import parallel
from . import schedules
from .backend import get_xp
from .object_registration import export_api, get_custom_objects, register_keras_serializable
from .schedules import LearningRateSchedule
from .serialization_lib import deserialize_keras_object, serialize_keras_object

_UIDS: dict = {}


def _to_snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def _auto_name(cls_name: str) -> str:
    """``adam``, ``adam_1``, ... as Keras names optimizers."""
    base = _to_snake_case(cls_name)
    n = _UIDS.get(base, 0)
    _UIDS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _kcast(t, x):
    """Keras's ``ops.cast(python_float, dtype)``: TF and torch turn the Python float into a
    float32 tensor first, so a float64 parameter sees the float32-rounded constant (no-op for
    float32 parameters)."""
    return t(np.float32(x))


def _subtract_in_place(p, step):
    p -= step


def _host_sqrt(x):
    """sqrt of a host scalar (a NumPy scalar of the parameter dtype), kept off the device."""
    return np.sqrt(x)


def _lr_cast(t, lr):
    """The learning rate as Keras uses it: a ``floatx`` variable cast to the parameter dtype."""
    return t(np.asarray(lr, dtype=backend.floatx()))


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _check_range(cls, name, value, low=0.0, high=None, allow_none=False):
    """``value`` as a float in [low, high]; ValueError naming the argument otherwise."""
    if value is None and allow_none:
        return None
    if not _is_number(value) or not np.isfinite(value):
        raise ValueError(f"{cls}: argument `{name}` must be a finite number, received {name}={value!r}")
    value = float(value)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{cls}: argument `{name}` must be {bounds}, received {name}={value!r}")
    return value


def _array_of(g):
    """The raw array of a gradient (an array, a Tensor, or array-like)."""
    data = getattr(g, "data", g)
    if backend.is_array(data):
        return data
    return np.asarray(data)


def _assign(dst, src):
    """``dst[...] = src`` across devices (NumPy <-> CuPy), keeping ``dst``'s dtype."""
    xp = get_xp(dst)
    if xp is np:
        src = backend.to_numpy(getattr(src, "data", src))
    dst[...] = xp.asarray(src, dtype=dst.dtype)


class Optimizer:
    """Base optimizer (Keras 3 ``keras.optimizers.Optimizer``).

    Subclasses define ``_slot_groups()`` (the slot variables, grouped in Keras's creation
    order) and ``update_step(gradient, variable, learning_rate)``.
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        cls = type(self).__name__
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.")
        for legacy in ("is_legacy_optimizer", "jit_compile"):  # keys of tf.keras / Keras 2 configs
            kwargs.pop(legacy, None)
        if kwargs:
            raise ValueError(f"{cls}: argument(s) not recognized: {kwargs}")
        self.name = name if name is not None else _auto_name(cls)
        self.weight_decay = _check_range(cls, "weight_decay", weight_decay, allow_none=True)
        self.clipnorm = _check_range(cls, "clipnorm", clipnorm, allow_none=True)
        self.clipvalue = _check_range(cls, "clipvalue", clipvalue, allow_none=True)
        self.global_clipnorm = _check_range(cls, "global_clipnorm", global_clipnorm, allow_none=True)
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.use_ema = bool(use_ema)
        self.ema_momentum = _check_range(cls, "ema_momentum", ema_momentum, 0.0, 1.0)
        if ema_overwrite_frequency is not None and (
                not isinstance(ema_overwrite_frequency, (int, np.integer)) or ema_overwrite_frequency < 1):
            raise ValueError(f"{cls}: `ema_overwrite_frequency` must be an integer >= 1 or None. "
                             f"Received: ema_overwrite_frequency={ema_overwrite_frequency!r}")
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = _check_range(cls, "loss_scale_factor", loss_scale_factor, allow_none=True)
        if self.loss_scale_factor == 0.0:
            raise ValueError(f"{cls}: `loss_scale_factor` must be > 0, received 0")
        if gradient_accumulation_steps is not None and (
                not isinstance(gradient_accumulation_steps, (int, np.integer)) or gradient_accumulation_steps < 2):
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. "
                             f"Received: gradient_accumulation_steps={gradient_accumulation_steps!r}")
        self.gradient_accumulation_steps = gradient_accumulation_steps

        self._learning_rate = self._check_learning_rate(learning_rate)
        self._iterations = 0  # raw step counter (Keras's `iteration` variable)
        self._params: list = []  # parameters in the order first seen
        self._index: dict = {}  # id(param) -> position in _params
        self._slots: dict = {}  # slot name -> list of arrays aligned with _params
        self._exclude_ids: set = set()
        self._exclude_pattern = None
        self._wd_cache: dict = {}
        self._warned_missing: set = set()
        self._flat = None  # flat slot/scratch buffers of a fused update (see _pack_slots)
        # set by a data-parallel fit: averages the gradients across processes before each step
        self._gradient_reducer = None
        self.built = False

    # ------------------------------------------------------------------ learning rate
    def _check_learning_rate(self, lr):
        if isinstance(lr, LearningRateSchedule) or (callable(lr) and not _is_number(lr)):
            return lr
        if isinstance(lr, dict):
            return schedules.deserialize(lr)
        data = getattr(lr, "data", lr)
        if backend.is_array(data) and data.size == 1:
            lr = float(data.reshape(()).item())
        if not _is_number(lr):
            raise ValueError(
                f"{type(self).__name__}: argument `learning_rate` should be a float, a LearningRateSchedule or a "
                f"callable (returning the learning rate). Received instead: learning_rate={lr!r}")
        return _check_range(type(self).__name__, "learning_rate", lr)

    @property
    def learning_rate(self) -> float:
        """The current learning rate as a float (a schedule is evaluated at ``iterations``)."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self._iterations))
        if callable(lr):
            return float(lr())
        return lr

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self._learning_rate, LearningRateSchedule) and not (
                isinstance(value, LearningRateSchedule) or callable(value)):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable. "
                            "If you need the learning rate to be settable, you should instantiate the "
                            "optimizer with a float `learning_rate` argument.")
        self._learning_rate = self._check_learning_rate(value)

    @property
    def iterations(self) -> int:
        """Number of updates applied (with gradient accumulation: the number of real updates)."""
        if self.gradient_accumulation_steps:
            return self._iterations // self.gradient_accumulation_steps
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"iterations must be an integer >= 0, received {value!r}")
        self._iterations = int(value)

    # ------------------------------------------------------------------ slots
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
                    arr = xp.zeros_like(p.data) if init == 0 else xp.full_like(p.data, init)
                    self._slots.setdefault(slot, []).append(arr)
        if not self.built:
            self._build_extra(params)
        self.built = True
        if added and self._fused_slots:
            self._pack_slots()

    # ------------------------------------------------------------------ fused (flat) state
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

    def to(self, device):
        """Move the per-parameter state (slots) to ``device``; returns the optimizer."""
        dev = backend.get_device(device)
        for name, arrays in self._slots.items():
            self._slots[name] = [a if backend.device_of(a) == dev else backend.to_device(a, dev) for a in arrays]
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

    # ------------------------------------------------------------------ state (saving)
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
                    entries.append((f"{ref}_{slot}", (lambda a=arr: a), (lambda v, a=arr: _assign(a, v))))
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

    # ------------------------------------------------------------------ weight decay
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

    # ------------------------------------------------------------------ clipping
    def _clip_by_norm(self, g):
        xp = get_xp(g)
        t = g.dtype.type
        l2sum = xp.sum(xp.square(g), keepdims=True)
        l2norm = xp.where(l2sum > 0, xp.sqrt(xp.where(l2sum > 0, l2sum, xp.ones_like(l2sum))), l2sum)
        return (g * t(self.clipnorm)) / xp.maximum(l2norm, t(self.clipnorm))

    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [self._clip_by_norm(g) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            v = self.clipvalue
            return [get_xp(g).clip(g, g.dtype.type(-v), g.dtype.type(v)) for g in grads]
        return grads

    # ------------------------------------------------------------------ applying
    def _prepare_grad(self, g, p):
        d = p.data
        if type(g) is np.ndarray and type(d) is np.ndarray and g.dtype == d.dtype and g.shape == d.shape:
            return g  # the usual case, checked first (once per parameter and step)
        g = _array_of(g)
        if get_xp(g) is not get_xp(p.data):
            g = backend.to_device(g, backend.device_of(p.data))
        if g.dtype != p.data.dtype:
            g = g.astype(p.data.dtype)
        if g.shape != p.data.shape:
            name = getattr(p, "path", None) or p.name
            raise ValueError(f"{type(self).__name__}: gradient for {name!r} has shape {tuple(g.shape)}, "
                             f"expected the parameter's shape {tuple(p.data.shape)}")
        return g

    def apply_gradients(self, grads_and_vars) -> int:
        """Apply ``[(grad, param), ...]`` (Keras style); returns ``iterations``."""
        pairs = list(grads_and_vars)
        if pairs:
            grads, params = zip(*pairs)
            self.apply(list(grads), list(params))
        return self.iterations

    def apply(self, grads, params=None) -> None:
        """One optimization step: ``grads[i]`` (an array, or None to skip) updates ``params[i]``
        in place. ``params`` may be omitted once the optimizer is built (then the gradients
        follow the built parameters one to one)."""
        grads = list(grads)
        if len(grads) == 0:
            return
        if getattr(self, "_gradient_reducer", None) is not None:
            grads = self._gradient_reducer(grads)
        if params is None:
            if not self.built:
                raise ValueError("When passing `grads` without `params`, the optimizer must already be built "
                                 "on a list of parameters. Call `optimizer.build(params)` first.")
            params = self._params
            if len(grads) != len(params):
                raise ValueError(f"{type(self).__name__}.apply: received {len(grads)} gradients, but the "
                                 f"optimizer tracks {len(params)} parameters")
        else:
            params = list(params)
            if len(grads) != len(params):
                raise ValueError(f"{type(self).__name__}.apply: received {len(grads)} gradients for "
                                 f"{len(params)} parameters")
        self.build(params)

        missing = tuple(getattr(p, "path", None) or p.name for g, p in zip(grads, params) if g is None)
        pairs = [(self._prepare_grad(g, p), p) for g, p in zip(grads, params) if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        if missing and missing not in self._warned_missing:
            self._warned_missing.add(missing)
            warnings.warn(f"Gradients do not exist for variables {list(missing)} when minimizing the loss. "
                          "If using `model.compile()`, did you forget to provide a `loss` argument?",
                          stacklevel=2)
        grads = [g for g, _ in pairs]
        params = [p for _, p in pairs]
        if self.loss_scale_factor is not None:
            grads = [g / g.dtype.type(self.loss_scale_factor) for g in grads]

        self._apply_gradients(grads, params)

        for p in params:
            constraint = getattr(p, "constraint", None)
            if constraint is not None:
                p.data[...] = constraint(p.data)
        self._iterations += 1

    def _apply_gradients(self, grads, params) -> None:
        steps = self.gradient_accumulation_steps
        if steps:
            accs = [self._slot("gradient_accumulator", p) for p in params]
            if (self._iterations + 1) % steps == 0:
                grads = [(g + acc) / g.dtype.type(steps) for g, acc in zip(grads, accs)]
                self._update(grads, params)
                for acc in self._slots["gradient_accumulator"]:
                    acc[...] = 0
            else:
                for g, acc in zip(grads, accs):
                    acc += g
        else:
            self._update(grads, params)
        if self.use_ema:
            self._update_moving_average()
            if self.ema_overwrite_frequency and (self.iterations + 1) % self.ema_overwrite_frequency == 0:
                self._overwrite_with_average(self._params)

    def _update(self, grads, params) -> None:
        grads = self._clip_gradients(grads)
        self._apply_weight_decay(params)
        self._update_all(grads, params, self.learning_rate)

    def _update_all(self, grads, params, learning_rate) -> None:
        for g, p in zip(grads, params):
            self.update_step(g, p, learning_rate)

    def update_step(self, gradient, variable, learning_rate) -> None:
        """Update ``variable.data`` in place from ``gradient`` (clipped, in the variable's dtype)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ EMA
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

    def scale_loss(self, loss):
        """``loss * loss_scale_factor`` when one is set (mixed precision)."""
        return loss * self.loss_scale_factor if self.loss_scale_factor is not None else loss

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        """Keras's config keys; ``learning_rate`` is a float or a serialized schedule."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = schedules.serialize(lr)
        elif callable(lr):
            lr = float(lr())
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Re-create the optimizer (without its state) from ``get_config()`` output."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self.learning_rate:g} " \
               f"iterations={self.iterations}>"


def global_norm(grads):
    """sqrt of the sum of squares of all gradients (Nones ignored)."""
    grads = [g for g in grads if g is not None]
    xp = get_xp(*grads)
    return xp.sqrt(xp.sum(xp.stack([xp.sum(xp.square(g)) for g in grads])))


def clip_by_global_norm(grads, clip_norm):
    """Scale all gradients by ``clip_norm / max(global_norm, clip_norm)`` (Keras's formula:
    NaN when the norm is not finite)."""
    use_norm = global_norm(grads)
    t = use_norm.dtype.type
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = t(clip_norm) * get_xp(use_norm).minimum(1 / use_norm, t(1 / clip_norm)) + (use_norm - use_norm)
    return [g if g is None else g * scale.astype(g.dtype) for g in grads]


# ==================================================================================== optimizers
class SGD(Optimizer):
    """Gradient descent with momentum: ``m = momentum*m - lr*g; p += m`` (Nesterov:
    ``p += momentum*m - lr*g``); plain ``p -= lr*g`` when ``momentum == 0``."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.momentum = _check_range("SGD", "momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def _slot_groups(self):
        return [(("momentum", 0.0),)] if self.momentum != 0 else []

    def update_step(self, gradient, variable, learning_rate):
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        if self.momentum != 0:
            m = self._slot("momentum", variable)
            momentum = _kcast(t, self.momentum)
            m[...] = m * momentum - gradient * lr
            if self.nesterov:
                variable.data += m * momentum - gradient * lr
            else:
                variable.data += m
        else:
            variable.data -= gradient * lr

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam: ``m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
    p -= m * lr*sqrt(1 - b2^t)/(1 - b1^t) / (sqrt(v) + epsilon)`` (AMSGrad: max of the v's)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        cls = type(self).__name__
        self.beta_1 = _check_range(cls, "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_range(cls, "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_range(cls, "epsilon", epsilon)
        self.amsgrad = bool(amsgrad)

    def _slot_groups(self):
        groups = [(("momentum", 0.0), ("velocity", 0.0))]
        if self.amsgrad:
            groups.append((("velocity_hat", 0.0),))
        return groups

    @property
    def _fused_slots(self):
        return ("momentum", "velocity", "velocity_hat") if self.amsgrad else ("momentum", "velocity")

    def _update_all(self, grads, params, learning_rate) -> None:
        plan = self._flat_plan(params) if type(self).update_step is Adam.update_step else None
        if plan is None:
            return super()._update_all(grads, params, learning_rate)
        # the arithmetic of update_step (same operations, same order), in place on flat buffers
        t = params[0].data.dtype.type
        xp = get_xp(params[0].data)
        lr = _lr_cast(t, learning_rate)
        local_step = t(self.iterations + 1)
        beta_1_power = _kcast(t, self.beta_1) ** local_step
        beta_2_power = _kcast(t, self.beta_2) ** local_step
        alpha = lr * _host_sqrt(1 - beta_2_power) / (1 - beta_1_power)
        c1, c2, eps = t(1 - self.beta_1), t(1 - self.beta_2), t(self.epsilon)
        amsgrad = self.amsgrad

        def update(g, m, v, v_hat, tmp, tmp2):
            xp.subtract(g, m, out=tmp)  # m += (g - m) * (1 - beta_1)
            tmp *= c1
            m += tmp
            xp.square(g, out=tmp)  # v += (g^2 - v) * (1 - beta_2)
            tmp -= v
            tmp *= c2
            v += tmp
            if amsgrad:
                xp.maximum(v_hat, v, out=v_hat)
                v = v_hat
            xp.sqrt(v, out=tmp2)  # p -= (m * alpha) / (sqrt(v) + epsilon)
            tmp2 += eps
            xp.multiply(m, alpha, out=tmp)
            tmp /= tmp2

        for g, slots, tmp, tmp2, steps in self._segments(plan, grads):
            # large segments: a contiguous range of the flat buffers per intra-op thread
            parallel.over_flat(xp, update, g, slots["momentum"], slots["velocity"], slots.get("velocity_hat"),
                               tmp, tmp2)
            for i, step in steps:
                if step.size < parallel.MIN_ELEMENTS:
                    params[i].data -= step  # (one thread: over_flat's checks cost more than the pass)
                else:
                    parallel.over_flat(xp, _subtract_in_place, params[i].data, step)

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        local_step = t(self.iterations + 1)
        beta_1_power = _kcast(t, self.beta_1) ** local_step
        beta_2_power = _kcast(t, self.beta_2) ** local_step
        m = self._slot("momentum", variable)
        v = self._slot("velocity", variable)
        alpha = lr * _host_sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m += (gradient - m) * t(1 - self.beta_1)
        v += (xp.square(gradient) - v) * t(1 - self.beta_2)
        if self.amsgrad:
            v_hat = self._slot("velocity_hat", variable)
            xp.maximum(v_hat, v, out=v_hat)
            v = v_hat
        variable.data -= (m * alpha) / (xp.sqrt(v) + t(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (``weight_decay=0.004`` by default; required)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")


class RMSprop(Optimizer):
    """RMSprop: ``v = rho*v + (1-rho)*g^2``; ``inc = lr*g / sqrt(v + eps)`` (centered:
    ``sqrt(v - ḡ^2 + eps)`` with ``ḡ = rho*ḡ + (1-rho)*g``); with momentum
    ``mom = momentum*mom + inc; p -= mom``, else ``p -= inc``."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.rho = _check_range("RMSprop", "rho", rho, 0.0, 1.0)
        self.momentum = _check_range("RMSprop", "momentum", momentum, 0.0, 1.0)
        self.epsilon = _check_range("RMSprop", "epsilon", epsilon)
        self.centered = bool(centered)

    def _slot_groups(self):
        groups = [(("velocity", 0.0),)]
        if self.momentum > 0:
            groups.append((("momentum", 0.0),))
        if self.centered:
            groups.append((("average_gradient", 0.0),))
        return groups

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        rho = t(self.rho)
        one_minus_rho = t(1 - self.rho)
        velocity = self._slot("velocity", variable)
        velocity[...] = rho * velocity + one_minus_rho * xp.square(gradient)
        if self.centered:
            average_grad = self._slot("average_gradient", variable)
            average_grad[...] = rho * average_grad + one_minus_rho * gradient
            denominator = velocity - xp.square(average_grad) + t(self.epsilon)
        else:
            denominator = velocity + t(self.epsilon)
        increment = (lr * gradient) / xp.sqrt(denominator)
        if self.momentum > 0:
            momentum = self._slot("momentum", variable)
            momentum[...] = t(self.momentum) * momentum + increment
            variable.data -= momentum
        else:
            variable.data -= increment

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad: ``acc += g^2; p -= lr*g / sqrt(acc + epsilon)`` (``acc`` starts at
    ``initial_accumulator_value``)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.initial_accumulator_value = _check_range("Adagrad", "initial_accumulator_value",
                                                      initial_accumulator_value)
        self.epsilon = _check_range("Adagrad", "epsilon", epsilon)

    def _slot_groups(self):
        return [(("accumulator", self.initial_accumulator_value),)]

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        accumulator = self._slot("accumulator", variable)
        accumulator += xp.square(gradient)
        variable.data -= (_lr_cast(t, learning_rate) * gradient) / xp.sqrt(accumulator + t(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Adadelta: ``Eg = rho*Eg + (1-rho)*g^2; d = -sqrt(Ed + eps)/sqrt(Eg + eps) * g;
    Ed = rho*Ed + (1-rho)*d^2; p += lr*d``."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.rho = _check_range("Adadelta", "rho", rho, 0.0, 1.0)
        self.epsilon = _check_range("Adadelta", "epsilon", epsilon)

    def _slot_groups(self):
        return [(("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0))]

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        rho, one_minus_rho, eps = t(self.rho), t(1 - self.rho), t(self.epsilon)
        acc_grad = self._slot("accumulated_grad", variable)
        acc_delta = self._slot("accumulated_delta_var", variable)
        acc_grad[...] = rho * acc_grad + one_minus_rho * xp.square(gradient)
        delta = -((xp.sqrt(acc_delta + eps) * gradient) / xp.sqrt(acc_grad + eps))
        acc_delta[...] = rho * acc_delta + one_minus_rho * xp.square(delta)
        variable.data += _lr_cast(t, learning_rate) * delta

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Nesterov Adam with Keras's momentum schedule ``u_t = b1 * (1 - 0.5 * 0.96^t)`` and its
    running product (the optimizer-wide ``u_product`` state)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.beta_1 = _check_range("Nadam", "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_range("Nadam", "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_range("Nadam", "epsilon", epsilon)
        self._u_product = None

    def _slot_groups(self):
        return [(("momentum", 0.0), ("velocity", 0.0))]

    def _build_extra(self, params):
        params = list(params)
        dtype = params[0].data.dtype if params else np.dtype(backend.floatx())
        self._u_product = np.asarray(1.0, dtype=dtype)

    def _reset_state(self):
        super()._reset_state()
        self._u_product = None

    def _extra_variables(self):
        def set_u(value):
            self._u_product = np.asarray(backend.to_numpy(getattr(value, "data", value)),
                                         dtype=self._u_product.dtype).reshape(())
        return [("variable", lambda: self._u_product.copy(), set_u)] if self._u_product is not None else []

    def _update_all(self, grads, params, learning_rate):
        u = self._u_product
        t = u.dtype.type
        step = t(self.iterations + 1)
        self._u_product = np.asarray(u * t(self.beta_1) * (t(1.0) - t(0.5) * t(0.96) ** step), dtype=u.dtype)
        super()._update_all(grads, params, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        local_step = t(self.iterations + 1)
        next_step = t(self.iterations + 2)
        decay = _kcast(t, 0.96)
        beta_1, beta_2 = _kcast(t, self.beta_1), _kcast(t, self.beta_2)
        u_t = beta_1 * (t(1.0) - t(0.5) * decay ** local_step)
        u_t_1 = beta_1 * (t(1.0) - t(0.5) * decay ** next_step)
        u_product_t = t(self._u_product)
        u_product_t_1 = u_product_t * u_t_1
        beta_2_power = beta_2 ** local_step
        m = self._slot("momentum", variable)
        v = self._slot("velocity", variable)
        m += (gradient - m) * (1 - beta_1)
        v += (xp.square(gradient) - v) * (1 - beta_2)
        m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * gradient) / (1 - u_product_t)
        v_hat = v / (1 - beta_2_power)
        variable.data -= (m_hat * lr) / (xp.sqrt(v_hat) + t(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


# ==================================================================================== lookup
_OPTIMIZERS = {c.__name__: c for c in (Optimizer, SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Nadam)}
export_api("keras.optimizers", _OPTIMIZERS)
_BY_LOWER = {name.lower(): c for name, c in _OPTIMIZERS.items() if c is not Optimizer}


def register_optimizer(cls):
    """Register a custom ``Optimizer`` subclass under ``"Custom>Name"`` (usable as a decorator;
    ``core.saving.register_keras_serializable`` does the same with a package name)."""
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
        raise ValueError(f"register_optimizer expects an Optimizer subclass, received {cls!r}")
    return register_keras_serializable()(cls)


def _lookup(name, custom_objects=None):
    """An optimizer class by name: custom objects, registered names (also by their bare class name,
    case-insensitively) and the built-ins (case-insensitively)."""
    registered = {k: v for k, v in get_custom_objects().items() if isinstance(v, type) and issubclass(v, Optimizer)}
    candidates = {**registered, **{k.split(">", 1)[1]: v for k, v in registered.items()}, **(custom_objects or {})}
    cls = candidates.get(name) or _BY_LOWER.get(str(name).lower()) or \
        {k.lower(): v for k, v in candidates.items()}.get(str(name).lower())
    if cls is None:
        known = sorted(set(_BY_LOWER) | {k.lower() for k in candidates})
        raise ValueError(f"unknown optimizer {name!r}; known optimizers: {', '.join(known)}")
    return cls


def serialize(optimizer) -> dict:
    """Keras 3 form: ``{"module", "class_name", "config", "registered_name"}``."""
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"serialize expects an Optimizer, received {optimizer!r}")
    return serialize_keras_object(optimizer)


def deserialize(config, custom_objects=None) -> Optimizer:
    """An optimizer from ``serialize()`` output or a ``{"class_name", "config"}`` dict."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"deserialize expects a dict with 'class_name' and 'config', received {config!r}")
    registered = config.get("registered_name")
    if registered in (None, config["class_name"]) and config.get("module") in (None, "keras.optimizers") \
            and not (custom_objects and config["class_name"] in custom_objects):
        cls = _lookup(config["class_name"], custom_objects)  # Keras 2 files wrote "adam"-style names too
        return cls.from_config(dict(config.get("config") or {}), custom_objects=custom_objects)
    return deserialize_keras_object(config, custom_objects=custom_objects, namespaces=("keras.optimizers",))


def get(identifier, custom_objects=None) -> Optimizer:
    """An optimizer from an instance (returned as is), a name (``"adam"``, case-insensitive,
    Keras defaults) or a config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, custom_objects=custom_objects)
    if isinstance(identifier, str):
        return _lookup(identifier, custom_objects)()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r} (expected an Optimizer, "
                     f"a name among {sorted(_BY_LOWER)}, or a config dict)")


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Nadam", "get", "serialize",
           "deserialize", "register_optimizer", "schedules", "LearningRateSchedule", "clip_by_global_norm",
           "global_norm"]
