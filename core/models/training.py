"""``compile`` / ``fit`` / ``evaluate`` / ``predict`` and the ``*_on_batch`` methods, with
Keras 3 semantics: running-average logs, callbacks, validation, class and sample weights."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autodiff import Tensor, no_grad
from ..layers.base import _call_stack, _flatten
from . import data_adapter


class TrainingMixin:
    def __init__(self):
        self.compiled = False
        self.stop_training = False
        self.optimizer = None
        self._loss_config = None
        self._compile_config = None
        self.assets = {}  # vocabulary, labels, scaler statistics...: saved with the model

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=None, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Configure training: an optimizer, a loss (per output by list or dict), metrics and loss weights.
        Unknown names raise here, before any data is seen."""
        from .. import losses as losses_mod
        from .. import optimizers as optimizers_mod

        self.optimizer = optimizers_mod.get(optimizer)
        out_names = self._output_names_for_compile()
        self._losses_per_output = self._per_output(loss, out_names, "loss", losses_mod.get, allow_none=True)
        if loss_weights is None:
            self._loss_weights = [1.0] * len(out_names)
        elif isinstance(loss_weights, dict):
            unknown = set(loss_weights) - set(out_names)
            if unknown:
                raise ValueError(f"compile: loss_weights names {sorted(unknown)} are not outputs {out_names}")
            self._loss_weights = [float(loss_weights.get(n, 1.0)) for n in out_names]
        else:
            lw = list(loss_weights)
            if len(lw) != len(out_names):
                raise ValueError(f"compile: {len(lw)} loss_weights for {len(out_names)} outputs {out_names}")
            self._loss_weights = [float(w) for w in lw]
        self._metric_specs = self._per_output_metrics(metrics, out_names)
        self._weighted_metric_specs = self._per_output_metrics(weighted_metrics, out_names)
        self._compiled_metrics = None  # resolved against data shapes on first use
        self.compiled = True
        self._compile_config = {"optimizer": optimizer if isinstance(optimizer, str) else None,
                                "loss": loss if isinstance(loss, (str, list, dict)) else None,
                                "loss_weights": loss_weights, "metrics": metrics}
        self.stop_training = False

    def _output_names_for_compile(self):
        names = getattr(self, "output_names", None)
        if names:
            return list(names)
        return ["output"]

    @staticmethod
    def _per_output(spec, out_names, what, getter, allow_none=False):
        if isinstance(spec, dict):
            unknown = set(spec) - set(out_names)
            if unknown:
                raise ValueError(f"compile: {what} given for {sorted(unknown)}, which are not outputs of the model "
                                 f"(outputs: {out_names})")
            return [getter(spec[n]) if spec.get(n) is not None else None for n in out_names]
        if isinstance(spec, (list, tuple)) and len(out_names) > 1:
            if len(spec) != len(out_names):
                raise ValueError(f"compile: {len(spec)} {what}es for {len(out_names)} outputs {out_names}")
            return [getter(s) if s is not None else None for s in spec]
        if spec is None:
            return [None] * len(out_names)
        return [getter(spec)] * len(out_names) if not isinstance(spec, (list, tuple)) else [getter(spec[0])]

    @staticmethod
    def _per_output_metrics(metrics, out_names):
        if metrics is None:
            return [[] for _ in out_names]
        if isinstance(metrics, dict):
            unknown = set(metrics) - set(out_names)
            if unknown:
                raise ValueError(f"compile: metrics given for {sorted(unknown)}, which are not outputs {out_names}")
            return [list(metrics[n]) if isinstance(metrics.get(n), (list, tuple)) else
                    ([metrics[n]] if metrics.get(n) is not None else []) for n in out_names]
        metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
        if len(out_names) > 1 and metrics and all(isinstance(m, (list, tuple)) or m is None for m in metrics):
            return [list(m or []) for m in metrics]
        # validate names now (an unknown metric is an error at compile time, as Keras)
        from .. import metrics as metrics_mod

        for m in metrics:
            if isinstance(m, str) and m not in ("accuracy", "acc", "crossentropy", "ce"):
                metrics_mod.get(m)
        return [list(metrics) for _ in out_names]

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"You must call compile() before {what}()")

    # ------------------------------------------------------------------ metrics
    def _build_metrics(self, y_batch, y_pred):
        from .. import metrics as metrics_mod

        ys = self._as_output_list(y_batch)
        preds = y_pred if isinstance(y_pred, (list, tuple)) else [y_pred]
        out_names = self._output_names_for_compile()
        multi = len(out_names) > 1
        compiled = []
        for i, specs in enumerate(self._metric_specs):
            for spec in specs:
                m = metrics_mod.get(spec, loss=self._losses_per_output[i],
                                    y_true=None if ys[i] is None else backend.to_numpy(_data(ys[i])),
                                    y_pred_shape=tuple(preds[i].shape))
                name = m.name
                if multi:
                    name = f"{out_names[i]}_{name}"
                compiled.append((i, name, m, False))
        for i, specs in enumerate(self._weighted_metric_specs):
            for spec in specs:
                m = metrics_mod.get(spec, loss=self._losses_per_output[i],
                                    y_true=None if ys[i] is None else backend.to_numpy(_data(ys[i])),
                                    y_pred_shape=tuple(preds[i].shape))
                name = ("weighted_" + m.name) if not multi else f"{out_names[i]}_weighted_{m.name}"
                compiled.append((i, name, m, True))
        self._compiled_metrics = compiled
        self._loss_tracker = metrics_mod.Mean(name="loss")
        self._output_loss_trackers = [metrics_mod.Mean(name=f"{n}_loss") for n in out_names] if multi else []

    def reset_metrics(self):
        for _, _, m, _ in self._compiled_metrics or []:
            m.reset_state()
        if getattr(self, "_loss_tracker", None) is not None:
            self._loss_tracker.reset_state()
        for t in getattr(self, "_output_loss_trackers", []):
            t.reset_state()

    def _update_metrics(self, y, y_pred, sample_weight):
        ys = self._as_output_list(y)
        preds = y_pred if isinstance(y_pred, (list, tuple)) else [y_pred]
        for i, _, m, weighted in self._compiled_metrics:
            if ys[i] is None:
                continue
            m.update_state(_data(ys[i]), _data(preds[i]), sample_weight=_data(sample_weight) if weighted else None)

    def _logs(self):
        logs = {"loss": self._loss_tracker.result()}
        for t in self._output_loss_trackers:
            logs[t.name] = t.result()
        for _, name, m, _ in self._compiled_metrics:
            logs[name] = m.result()
        return logs

    @property
    def metrics_names(self):
        names = ["loss"]
        if self._compiled_metrics:
            names += [t.name for t in self._output_loss_trackers] + [name for _, name, _, _ in self._compiled_metrics]
        return names

    # ------------------------------------------------------------------ loss
    def _as_output_list(self, y):
        out_names = self._output_names_for_compile()
        if isinstance(y, dict):
            return [y.get(n) for n in out_names]
        if len(out_names) == 1:
            return [y]
        if not isinstance(y, (list, tuple)) or len(y) != len(out_names):
            raise ValueError(f"model has {len(out_names)} outputs {out_names}; y must be a list or dict of "
                             f"{len(out_names)} arrays")
        return list(y)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The weighted sum of the per-output losses plus regularization losses (a scalar Tensor)."""
        ys = self._as_output_list(y)
        preds = y_pred if isinstance(y_pred, (list, tuple)) else [y_pred]
        total = None
        per_output = []
        for i, (loss_fn, w) in enumerate(zip(self._losses_per_output, self._loss_weights)):
            if loss_fn is None or ys[i] is None:
                per_output.append(None)
                continue
            value = loss_fn(ys[i], preds[i], sample_weight=sample_weight)
            per_output.append(value)
            term = value * w if w != 1.0 else value
            total = term if total is None else total + term
        if total is None:
            raise ValueError("compile() was given no loss for any output: nothing to train")
        for reg in self.losses:
            total = total + reg
        self._last_output_losses = per_output
        return total

    # ------------------------------------------------------------------ steps
    def train_step(self, x, y, sample_weight=None):
        """One optimizer step on a batch; returns the running logs."""
        self._train_batch(x, y, sample_weight)
        return self._logs()

    def _on_model_device(self, *data):
        """``data`` (arrays, Tensors, lists/dicts of them, None) on the device of the model's
        weights, so that a model moved with ``to("gpu")`` takes host batches. Nothing to do
        without CuPy (everything is then on the CPU)."""
        if backend._cupy is None:
            return data
        weights = self.weights
        dev = backend.device_of(weights[0].data) if weights else backend.config.device

        def move(a):
            if isinstance(a, Tensor):
                return a if a.device == dev else a.to(dev)
            if backend.is_array(a) or isinstance(a, np.ndarray):
                return backend.to_device(a, dev)
            return a

        return tuple(data_adapter._map(move, d) if d is not None else None for d in data)

    def _train_batch(self, x, y, sample_weight=None):
        """``train_step`` without building the logs (``fit`` skips them when no callback reads them)."""
        x, y, sample_weight = self._on_model_device(x, y, sample_weight)
        params = self.trainable_weights
        for p in params:
            p.grad = None
        stack = _call_stack()
        stack.append(True)
        try:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        finally:
            stack.pop()
        loss.backward()
        grads = [p.grad for p in params]
        self.optimizer.apply(grads, params)
        for p in params:
            p.grad = None
        n = _batch_len(x)
        self._loss_tracker.update_state(np.asarray(float(loss.data)), sample_weight=np.asarray(float(n)))
        for t, v in zip(self._output_loss_trackers, self._last_output_losses):
            if v is not None:
                t.update_state(np.asarray(float(v.data)), sample_weight=np.asarray(float(n)))
        if self._compiled_metrics:
            with no_grad():
                self._update_metrics(y, y_pred, sample_weight)

    def test_step(self, x, y, sample_weight=None):
        x, y, sample_weight = self._on_model_device(x, y, sample_weight)
        with no_grad():
            y_pred = self(x, training=False)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
            n = _batch_len(x)
            self._loss_tracker.update_state(np.asarray(float(loss.data)), sample_weight=np.asarray(float(n)))
            for t, v in zip(self._output_loss_trackers, self._last_output_losses):
                if v is not None:
                    t.update_state(np.asarray(float(v.data)), sample_weight=np.asarray(float(n)))
            self._update_metrics(y, y_pred, sample_weight)
        return self._logs()

    def predict_step(self, x):
        (x,) = self._on_model_device(x)
        with no_grad():
            out = self(x, training=False)
        return out

    # ------------------------------------------------------------------ checks before training
    def _check_data(self, x, y, where="fit"):
        data_adapter.check_finite(x, "x", where)
        if y is not None:
            data_adapter.check_finite(y, "y", where)
        self._check_input_shapes(x, where)
        if y is not None and not data_adapter.is_iterator_like(y):
            self._check_targets(x, y)

    def _check_input_shapes(self, x, where):
        from ..layers.base import _fmt_shape

        expected = self._expected_input_shapes()
        if expected is None or data_adapter.is_iterator_like(x):
            return
        xs = self._match_inputs(x) if hasattr(self, "_match_inputs") else [x]
        for exp, arr in zip(expected, xs):
            if exp is None or not hasattr(arr, "shape"):
                continue
            got = tuple(arr.shape)
            if getattr(self, "_lazily_built", False):
                exp = (None,) * len(exp)  # no input shape was declared: only the rank is known
            if len(got) != len(exp) or any(e is not None and e != g for e, g in zip(exp[1:], got[1:])):
                raise ValueError(f"{where}: input data has shape {got}, but model '{self.name}' expects "
                                 f"{_fmt_shape(exp)} (None is the batch axis)")

    def _expected_input_shapes(self):
        if hasattr(self, "_flat_inputs"):
            return [t.shape for t in self._flat_inputs]
        shape = getattr(self, "_input_batch_shape", None)
        if shape is not None and self.built:
            return [tuple(shape)]
        return None

    def _check_targets(self, x, y):
        ys = self._as_output_list(y)
        out_shapes = self._output_shapes_for_check(x)
        for i, (loss_fn, yt) in enumerate(zip(self._losses_per_output, ys)):
            if loss_fn is None or yt is None or out_shapes is None:
                continue
            check = getattr(loss_fn, "check_targets", None)
            if check is not None:
                check(backend.to_numpy(_data(yt)), out_shapes[i])

    def _output_shapes_for_check(self, x):
        if hasattr(self, "_flat_outputs"):
            return [t.shape for t in self._flat_outputs]
        spec = getattr(self, "_output_spec", None)
        if spec is not None and self.built:
            return [spec.shape]
        return None

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a ``History``. Data: arrays (or lists/dicts of arrays for
        multi-input/output models), a generator / iterable of batches, or a ``core.data.Dataset``."""
        from .. import callbacks as callbacks_mod

        self._require_compiled("fit")
        if validation_split and validation_data is None:
            if data_adapter.is_iterator_like(x):
                raise ValueError("validation_split is only supported for array inputs; pass validation_data")
            (x, y, sample_weight), val = data_adapter.train_validation_split((x, y, sample_weight), validation_split)
            validation_data = val
        train = data_adapter.get_adapter(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                                         steps=steps_per_epoch, class_weight=class_weight)
        self._check_data(x, y, "fit")
        val = None
        if validation_data is not None:
            vx, vy, vsw = data_adapter.unpack_validation(validation_data)
            self._check_data(vx, vy, "fit (validation_data)")
            val = data_adapter.get_adapter(vx, vy, vsw, batch_size=validation_batch_size or batch_size or 32,
                                           shuffle=False, steps=validation_steps)
        verbose = _resolve_verbose(verbose)
        cbs = callbacks_mod.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                         verbose=verbose, epochs=epochs, steps=train.steps_per_epoch)
        self.stop_training = False
        self._ensure_metrics(train)
        # Keras skips the batch hooks when no callback implements them; the running logs are then
        # only needed at the end of the epoch (train_step overridden: called as it is)
        batch_hooks = _implements_train_batch_hooks(cbs)
        plain_step = type(self).train_step is TrainingMixin.train_step
        self._initial_epoch = None
        cbs.on_train_begin()
        # a callback that restored a backup (BackupAndRestore) sets where training resumes, as in Keras
        initial_epoch = self._initial_epoch or initial_epoch
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            logs = {}
            for step, (xb, yb, swb) in enumerate(train.epoch_batches()):
                if batch_hooks:
                    cbs.on_train_batch_begin(step)
                    logs = self.train_step(xb, yb, swb)
                    cbs.on_train_batch_end(step, logs)
                elif plain_step:
                    self._train_batch(xb, yb, swb)
                    logs = None
                else:
                    logs = self.train_step(xb, yb, swb)
                if self.stop_training:
                    break
            epoch_logs = dict(logs) if logs else self._logs()
            if val is not None and (epoch + 1) % validation_freq == 0 if isinstance(validation_freq, int) \
                    else (val is not None and epoch + 1 in validation_freq):
                val_logs = self._run_evaluation(val, cbs, from_fit=True)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs)
        return self.history

    def _ensure_metrics(self, adapter):
        if self._compiled_metrics is None:
            xb, yb, _ = adapter.peek()
            with no_grad():
                pred = self(xb, training=False)
            self._build_metrics(yb, pred)

    def _run_evaluation(self, adapter, cbs, from_fit=False):
        self.reset_metrics()
        cbs.on_test_begin()
        logs = {}
        for step, (xb, yb, swb) in enumerate(adapter.epoch_batches()):
            cbs.on_test_batch_begin(step)
            logs = self.test_step(xb, yb, swb)
            cbs.on_test_batch_end(step, logs)
        logs = self._logs() if not logs else logs
        cbs.on_test_end(logs)
        return logs

    # ------------------------------------------------------------------ evaluate / predict
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss and metrics on the data: a scalar (loss only), a list ``[loss, *metrics]``, or a dict."""
        from .. import callbacks as callbacks_mod

        self._require_compiled("evaluate")
        self._check_data(x, y, "evaluate")
        adapter = data_adapter.get_adapter(x, y, sample_weight, batch_size=batch_size, shuffle=False, steps=steps)
        self._ensure_metrics(adapter)
        verbose = _resolve_verbose(verbose)
        cbs = callbacks_mod.CallbackList(callbacks, add_history=False, add_progbar=verbose != 0, model=self,
                                         verbose=verbose, epochs=1, steps=adapter.steps_per_epoch)
        logs = self._run_evaluation(adapter, cbs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for the inputs, batched, as NumPy arrays (a list/dict for multi-output models)."""
        from .. import callbacks as callbacks_mod

        data_adapter.check_finite(x, "x", "predict")
        self._check_input_shapes(x, "predict")
        adapter = data_adapter.get_adapter(x, None, None, batch_size=batch_size, shuffle=False, steps=steps)
        verbose = _resolve_verbose(verbose)
        cbs = callbacks_mod.CallbackList(callbacks, add_history=False, add_progbar=verbose != 0, model=self,
                                         verbose=verbose, epochs=1, steps=adapter.steps_per_epoch)
        cbs.on_predict_begin()
        outs = []
        for step, (xb, _, _) in enumerate(adapter.epoch_batches()):
            cbs.on_predict_batch_begin(step)
            out = self.predict_step(xb)
            outs.append(_to_numpy_structure(out))
            cbs.on_predict_batch_end(step, {"outputs": outs[-1]})
        cbs.on_predict_end()
        if not outs:
            raise ValueError("predict: the input data is empty")
        return _concat_structure(outs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns the loss (and metrics) for that batch."""
        self._require_compiled("train_on_batch")
        self._check_data(x, y, "train_on_batch")
        if class_weight is not None:
            sample_weight = data_adapter.class_weight_to_sample_weight(y, class_weight, sample_weight)
        x, y, sample_weight = data_adapter.to_tensors(x), data_adapter.to_tensors(y), data_adapter.to_tensors(sample_weight)
        if self._compiled_metrics is None:
            with no_grad():
                self._build_metrics(y, self(x, training=False))
        self.reset_metrics()
        logs = self.train_step(x, y, sample_weight)
        return _format_logs(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        self._check_data(x, y, "test_on_batch")
        x, y, sample_weight = data_adapter.to_tensors(x), data_adapter.to_tensors(y), data_adapter.to_tensors(sample_weight)
        if self._compiled_metrics is None:
            with no_grad():
                self._build_metrics(y, self(x, training=False))
        self.reset_metrics()
        return _format_logs(self.test_step(x, y, sample_weight), return_dict)

    def predict_on_batch(self, x):
        return _to_numpy_structure(self.predict_step(data_adapter.to_tensors(x)))


_TRAIN_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")


def _implements_train_batch_hooks(cbs) -> bool:
    """Whether any callback of the list has its own train-batch hook (a method or an attribute)."""
    from ..callbacks import Callback

    for cb in getattr(cbs, "callbacks", ()):
        for name in _TRAIN_BATCH_HOOKS:
            if getattr(getattr(cb, name, None), "__func__", None) is not getattr(Callback, name):
                return True
    return False


def _format_logs(logs, return_dict):
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _resolve_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return verbose


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _batch_len(x):
    first = _flatten(x)[0] if isinstance(x, (list, tuple, dict)) else x
    return int(first.shape[0])


def _to_numpy_structure(out):
    if isinstance(out, (list, tuple)):
        return [_to_numpy_structure(o) for o in out]
    if isinstance(out, dict):
        return {k: _to_numpy_structure(v) for k, v in out.items()}
    return backend.to_numpy(_data(out))


def _concat_structure(outs):
    first = outs[0]
    if isinstance(first, list):
        return [np.concatenate([o[i] for o in outs]) for i in range(len(first))]
    if isinstance(first, dict):
        return {k: np.concatenate([o[k] for o in outs]) for k in first}
    return np.concatenate(outs)
