"""``compile`` / ``fit`` / ``evaluate`` / ``predict`` and the ``*_on_batch`` methods, with
Keras 3 semantics: running-average logs, callbacks, validation, class and sample weights."""
from __future__ import annotations

import inspect
import warnings

import numpy as np

from .. import backend
from .. import distribute
from .. import metrics as metrics_mod
from .. import serialization_lib
from ..autodiff import Tensor, no_grad
from ..layers.base import Layer, _call_stack, _flatten
from . import compile_utils, data_adapter
from ..utils import pack_x_y_sample_weight, unpack_x_y_sample_weight


class TrainingMixin:
    def __init__(self):
        self.compiled = False
        self.stop_training = False
        self.optimizer = None
        self.loss = None
        self._compile_config = None
        self._compile_args = None
        self._user_compile = None
        self._output_keys = None
        self._keys_guessed = False
        self._losses_per_output = None
        self._loss_weights = None
        self._metric_specs = None
        self._weighted_metric_specs = None
        self._loss_tracker = None
        self._compiled_metrics = None
        self._output_loss_trackers = []
        self.assets = {}  # vocabulary, labels, scaler statistics...: saved with the model
        self._distribution = None  # the data-parallel distribution while fit runs under one

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=None, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Configure training: an optimizer, a loss (one for every output, a list per output or a dict
        by output name; None trains on the ``add_loss`` losses alone), loss weights and metrics
        (lists, or per output by list or dict). Unknown names raise here, before any data is seen."""
        from .. import optimizers as optimizers_mod

        if steps_per_execution not in (1, None):
            raise ValueError(f"compile: steps_per_execution={steps_per_execution} is not supported yet (zoo runs "
                             "one step per call); leave it at 1")
        if jit_compile is True:
            warnings.warn("compile: jit_compile=True has no effect in zoo (its NumPy/CuPy engine runs eagerly); "
                          "proceeding with jit_compile=False", stacklevel=2)
        self.run_eagerly = bool(run_eagerly)
        self.jit_compile = False
        self.steps_per_execution = 1
        self.optimizer = optimizers_mod.get(optimizer)
        compile_utils.validate_loss_spec(loss)
        compile_utils.validate_metric_spec(metrics, "metrics")
        compile_utils.validate_metric_spec(weighted_metrics, "weighted_metrics")
        self.loss = loss
        self._user_compile = (loss, loss_weights, metrics, weighted_metrics)
        self._output_keys = None
        self._compiled_metrics = None
        self._output_loss_trackers = []
        self._loss_tracker = metrics_mod.Mean(name="loss")
        keys = self._known_output_keys()
        if keys is not None:
            self._resolve_compile(keys)
        elif any(compile_utils.is_per_output(spec) for spec in (loss, loss_weights)) or \
                any(isinstance(spec, dict) and not compile_utils.is_config(spec) for spec in (metrics, weighted_metrics)):
            self._keys_guessed = True  # per-output specs of a subclassed model: resolved on its first output
            self._losses_per_output = self._loss_weights = self._metric_specs = self._weighted_metric_specs = None
        else:
            self._resolve_compile(["output"], guessed=True)
        self.compiled = True
        self._compile_config = {"optimizer": optimizer if isinstance(optimizer, str) else None,  # read by the savers
                                "loss": loss if isinstance(loss, (str, list, dict)) else None,
                                "loss_weights": loss_weights, "metrics": metrics}
        self._compile_args = {"optimizer": self.optimizer, "loss": loss, "loss_weights": loss_weights,
                              "metrics": metrics, "weighted_metrics": weighted_metrics,
                              "run_eagerly": self.run_eagerly, "steps_per_execution": 1, "jit_compile": False}
        self.stop_training = False

    def _known_output_keys(self):
        """The names of the outputs before any data: a Functional model's dict keys (dict
        ``outputs=``) or output layer names; None for a subclassed model (known from its first
        output)."""
        struct = getattr(self, "_outputs_struct", None)
        if isinstance(struct, dict):
            return [str(k) for k in struct]
        names = getattr(self, "output_names", None)
        if names:
            return list(names)
        stack = getattr(self, "_stack", None)  # Sequential: one output, named after its last layer
        if stack is not None:
            return [stack[-1].name if stack else "output"]
        return None

    def _resolve_compile(self, keys, guessed=False):
        loss, loss_weights, metrics, weighted_metrics = self._user_compile
        self._output_keys = list(keys)
        self._keys_guessed = guessed
        self._losses_per_output = compile_utils.losses_per_output(loss, keys)
        self._loss_weights = compile_utils.loss_weights_per_output(loss_weights, keys)
        self._metric_specs = compile_utils.metrics_per_output(metrics, keys, "metrics")
        self._weighted_metric_specs = compile_utils.metrics_per_output(weighted_metrics, keys, "weighted_metrics")
        with_loss = [i for i, l in enumerate(self._losses_per_output) if l is not None]
        self._output_loss_trackers = [metrics_mod.Mean(name=f"{k}_loss") if len(with_loss) > 1 and i in with_loss
                                      else None for i, k in enumerate(keys)]
        if any(self._metric_specs) or any(self._weighted_metric_specs):
            self._compiled_metrics = compile_utils.CompiledMetrics(self._metric_specs, self._weighted_metric_specs,
                                                                   keys, self._losses_per_output,
                                                                   self._split_for_metrics)
        else:
            self._compiled_metrics = None

    def _resolve_from_prediction(self, y_pred):
        """A subclassed model's outputs are known from its first prediction: dict keys, or
        ``output_1, output_2, ...`` for a list."""
        if not self._keys_guessed:
            return
        if isinstance(y_pred, dict):
            keys = [str(k) for k in y_pred]
        elif isinstance(y_pred, (list, tuple)) and len(y_pred) != 1:
            keys = [f"output_{i + 1}" for i in range(len(y_pred))]
        else:
            keys = ["output"]
        if keys != self._output_keys:
            self._resolve_compile(keys)
        self._keys_guessed = False

    def _output_names_for_compile(self):
        if self._output_keys is not None:
            return list(self._output_keys)
        return self._known_output_keys() or ["output"]

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"You must call compile() before {what}()")

    # ------------------------------------------------------------------ metrics
    @property
    def metrics(self):
        """The metrics ``fit`` resets each epoch and reports, in Keras's order: the loss tracker,
        the compiled metrics, the per-output loss trackers, then ``Metric`` attributes of the model
        and of its layers (``self.loss_tracker = metrics.Mean(name="loss")``)."""
        out = []
        if self.compiled:
            if self._loss_tracker is not None:
                out.append(self._loss_tracker)
            if self._compiled_metrics is not None:
                out.append(self._compiled_metrics)
            out.extend(t for t in self._output_loss_trackers if t is not None)
        out.extend(_metric_attributes(self))
        seen = {id(self)}
        stack = list(self._layers)
        while stack:
            layer = stack.pop(0)
            if id(layer) in seen or isinstance(layer, TrainingMixin):
                continue  # a nested model's compiled state is its own (Keras)
            seen.add(id(layer))
            out.extend(_metric_attributes(layer))
            stack.extend(layer._layers)
        unique, ids = [], set()
        for m in out:
            if id(m) not in ids:
                ids.add(id(m))
                unique.append(m)
        return unique

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    @property
    def metrics_variables(self):
        out = []
        for m in self.metrics:
            out.extend(m.variables)
        return out

    def reset_metrics(self):
        """Reset every metric of ``model.metrics`` (fit does at the start of each epoch)."""
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self):
        """``{name: value}`` of every metric in ``model.metrics`` (a container's dict merged in)."""
        logs = {}
        metrics = self.metrics
        # under data parallelism: the results of the states summed over every process
        local = self._distribution.reduce_metrics(metrics) if getattr(self, "_distribution", None) else []
        try:
            for m in metrics:
                result = m.result()
                if isinstance(result, dict):
                    logs.update(result)
                else:
                    logs[m.name] = result
        finally:
            for v, value in local:
                v.value = value
        return logs

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics with a batch; returns ``get_metrics_result()``. Override it
        to update metrics of your own (call ``super().compute_metrics`` for the compiled ones)."""
        self._update_compiled_metrics(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def _update_compiled_metrics(self, y, y_pred, sample_weight):
        self._resolve_from_prediction(y_pred)
        if self._compiled_metrics is None or y is None:
            return
        with no_grad():
            self._compiled_metrics.update_state(y, y_pred, sample_weight)

    def _split_for_metrics(self, y, y_pred, sample_weight):
        return ([_data(v) for v in self._as_output_list(y)], [_data(v) for v in self._pred_list(y_pred)],
                [_data(v) for v in self._sample_weight_list(sample_weight)])

    def _flatten_metrics_in_order(self, logs):
        """The list evaluate/train_on_batch return: by ``model.metrics`` order (a compiled metric by
        its own name), then the other keys sorted, as Keras."""
        names = []
        for m in self.metrics:
            if isinstance(m, compile_utils.CompiledMetrics):
                names.extend(sub.name for sub in m.metrics)
            else:
                names.append(m.name)
        values = [logs[n] for n in names if n in logs]
        values += [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------ loss
    def _as_output_list(self, y):
        """``y`` as one entry per output (None where an output has no target)."""
        keys = self._output_names_for_compile()
        if y is None:
            return [None] * len(keys)
        if isinstance(y, dict):
            layer_names = list(getattr(self, "output_names", None) or [])
            if set(y) <= set(keys):
                return [y.get(k) for k in keys]
            if len(layer_names) == len(keys) and set(y) <= set(layer_names):
                return [y.get(n) for n in layer_names]
            unknown = sorted(set(y) - set(keys))
            raise ValueError(f"y has key(s) {unknown} that are not outputs of model '{self.name}'; its outputs "
                             f"are {keys}")
        if len(keys) == 1:
            if isinstance(y, (list, tuple)) and len(y) == 1:
                return [y[0]]
            return [y]
        with_loss = [i for i, l in enumerate(self._losses_per_output or ()) if l is not None]
        if isinstance(y, (list, tuple)) and len(y) != len(keys) and len(y) == len(with_loss):
            ys = [None] * len(keys)  # one target per output that has a loss (Keras)
            for i, v in zip(with_loss, y):
                ys[i] = v
            return ys
        if not isinstance(y, (list, tuple)) or len(y) != len(keys):
            raise ValueError(f"model has {len(keys)} outputs {keys}; y must be a list or dict of "
                             f"{len(keys)} arrays (or one array per output that has a loss)")
        return list(y)

    def _pred_list(self, y_pred):
        keys = self._output_names_for_compile()
        if isinstance(y_pred, dict):
            missing = [k for k in keys if k not in y_pred]
            if missing:
                raise ValueError(f"model '{self.name}' returned a dict without the output(s) {missing} that compile "
                                 f"was configured for")
            return [y_pred[k] for k in keys]
        if isinstance(y_pred, (list, tuple)):
            if len(y_pred) != len(keys):
                raise ValueError(f"model '{self.name}' returned {len(y_pred)} outputs, but compile was configured "
                                 f"for {len(keys)} {keys}")
            return list(y_pred)
        return [y_pred]

    def _sample_weight_list(self, sample_weight):
        keys = self._output_names_for_compile()
        if sample_weight is None:
            return [None] * len(keys)
        if isinstance(sample_weight, dict):
            return [sample_weight.get(k) for k in keys]
        if isinstance(sample_weight, (list, tuple)) and len(keys) > 1:
            if len(sample_weight) != len(keys):
                raise ValueError(f"{len(sample_weight)} sample_weight arrays for {len(keys)} outputs {keys}")
            return list(sample_weight)
        return [sample_weight] * len(keys)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss of a batch (a scalar Tensor): the compiled losses of the outputs, each times
        its loss weight, plus ``self.losses`` (``add_loss`` terms and weight regularization).
        Override it for a custom loss; ``train_step`` and ``test_step`` call it."""
        total = None
        self._resolve_from_prediction(y_pred)
        if any(l is not None for l in self._losses_per_output or ()):
            ys = self._as_output_list(y)
            preds = self._pred_list(y_pred)
            sws = self._sample_weight_list(sample_weight)
            n = None
            for i, (loss_fn, w) in enumerate(zip(self._losses_per_output, self._loss_weights)):
                if loss_fn is None or ys[i] is None:
                    continue
                value = loss_fn(ys[i], preds[i], sample_weight=sws[i])
                tracker = self._output_loss_trackers[i]
                if tracker is not None:
                    n = _batch_len(preds[i]) if n is None else n
                    tracker.update_state(np.asarray(float(_data(value))), sample_weight=np.asarray(float(n)))
                term = value * w if w != 1.0 else value
                total = term if total is None else total + term
        for extra in self.losses:
            if not isinstance(extra, Tensor):
                extra = Tensor(np.asarray(extra, dtype=backend.floatx()))
            if extra.ndim:
                extra = extra.sum()
            total = extra if total is None else total + extra
        if total is None:
            if y is None and self._losses_per_output and any(l is not None for l in self._losses_per_output):
                raise ValueError("compile() was given a loss, but the data has no targets y: pass y (or batches "
                                 "(x, y)), or compile without a loss to train on the add_loss() losses")
            raise ValueError("No loss to compute: provide a `loss` argument in compile(), or add losses with "
                             "add_loss() in a layer's call")
        return total

    def _compute_loss(self, x, y, y_pred, sample_weight, training):
        """``compute_loss``, also when an override predates its ``training`` argument (Keras)."""
        cls = type(self)
        takes = cls.__dict__.get("_compute_loss_takes_training")
        if takes is None:
            takes = "training" in inspect.signature(self.compute_loss).parameters
            setattr(cls, "_compute_loss_takes_training", takes)
        if takes:
            return self.compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.compute_loss(x, y, y_pred, sample_weight)

    # Keras's TensorFlow-backend shims, used by older keras-io train_steps
    @property
    def compiled_metrics(self):
        """Deprecated in Keras 3 (TensorFlow backend only): ``compiled_metrics.update_state(y, y_pred)``
        updates the metrics given to ``compile``."""
        model = self

        class _CompiledMetricsShim:
            def update_state(self, y, y_pred, sample_weight=None):
                warnings.warn("`model.compiled_metrics` is deprecated in Keras 3; update the metrics of "
                              "`self.metrics` (or call `self.compute_metrics`) instead", DeprecationWarning, stacklevel=2)
                model._update_compiled_metrics(y, y_pred, sample_weight)

        return _CompiledMetricsShim()

    def compiled_loss(self, y, y_pred, sample_weight=None, regularization_losses=None):
        """Deprecated in Keras 3 (TensorFlow backend only): ``compute_loss(y=y, y_pred=y_pred)``."""
        warnings.warn("`model.compiled_loss()` is deprecated in Keras 3; use `model.compute_loss(x, y, y_pred, "
                      "sample_weight)`", DeprecationWarning, stacklevel=2)
        return self.compute_loss(x=None, y=y, y_pred=y_pred, sample_weight=sample_weight)

    def stateless_call(self, *args, **kwargs):
        raise NotImplementedError("Model.stateless_call (Keras's JAX-backend API) is not supported yet by zoo: write "
                                  "train_step with loss.backward() or core.GradientTape (see the README)")

    def stateless_compute_loss(self, *args, **kwargs):
        raise NotImplementedError("Model.stateless_compute_loss (Keras's JAX-backend API) is not supported yet by "
                                  "zoo: call compute_loss in a train_step that uses loss.backward() (see the README)")

    def get_compile_config(self):
        """The arguments ``compile`` was given, serialized as Keras writes them (``compile_config`` of
        a saved model); None before ``compile``."""
        if not self.compiled or self._compile_args is None:
            return None
        return serialization_lib.serialize_keras_object(self._compile_args)

    def compile_from_config(self, config):
        """``compile`` with the arguments of a ``get_compile_config()`` dict. A model whose
        ``compile`` is overridden is left uncompiled, with a warning (Keras)."""
        if type(self).compile is not TrainingMixin.compile:
            warnings.warn("`compile()` was not called as part of model loading because the model's `compile()` "
                          "method is custom; override `get_compile_config()` and `compile_from_config(config)` too, "
                          "or call `compile()` after loading", stacklevel=2)
            return
        config = serialization_lib.deserialize_keras_object(config)
        self.compile(**config)
        if self.optimizer is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    # ------------------------------------------------------------------ steps
    def train_step(self, data):
        """One optimizer step on a batch, as Keras: ``data`` is ``x``, ``(x,)``, ``(x, y)`` or
        ``(x, y, sample_weight)`` (``keras.utils.unpack_x_y_sample_weight``); returns the logs
        (``compute_metrics``). To write your own: forward with ``self(x, training=True)``, take the
        loss, ``loss.backward()``, then ``grads = [v.grad for v in self.trainable_variables]`` and
        ``self.optimizer.apply(grads, self.trainable_variables)`` (see the README)."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        x, y, sample_weight, y_pred = self._train_batch(x, y, sample_weight)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _on_model_device(self, *data):
        """``data`` (arrays, Tensors, lists/dicts of them, None) on the device of the model's
        weights, so that a model moved with ``to("gpu")`` takes host batches. Nothing to do
        without CuPy (everything is then on the CPU)."""
        if backend._cupy is None:
            return data
        weights = self.weights
        dev = backend.device_of(weights[0].data) if weights else backend.config.device

        def move(a):  # strings stay on the host: the layers that take them run there
            if isinstance(a, Tensor):
                return a if a.device == dev or backend.holds_text(a.data) else a.to(dev)
            if backend.is_array(a) or isinstance(a, np.ndarray):
                return a if backend.holds_text(a) else backend.to_device(a, dev)
            return a

        return tuple(data_adapter._map(move, d) if d is not None else None for d in data)

    def _train_batch(self, x, y, sample_weight=None):
        """The default ``train_step`` up to the metrics: forward, loss, backward, optimizer step,
        loss tracker. Returns ``(x, y, sample_weight, y_pred)`` on the model's device."""
        x, y, sample_weight = self._on_model_device(x, y, sample_weight)
        stack = _call_stack()
        stack.append(True)
        try:
            y_pred = self(x, training=True)
            loss = self._compute_loss(x, y, y_pred, sample_weight, True)
        finally:
            stack.pop()
        params = self.trainable_weights  # after the forward pass: a subclassed model builds on its first call
        for p in params:
            p.grad = None
        if not isinstance(loss, Tensor):
            raise TypeError(f"compute_loss must return a scalar Tensor computed from the model's outputs, got "
                            f"{type(loss).__name__}")
        self._loss_tracker.update_state(np.asarray(float(loss.data)), sample_weight=np.asarray(float(_batch_len(x))))
        if params:
            # as Keras: the optimizer's loss scaling (loss_scale_factor, LossScaleOptimizer) before the
            # gradients, which its apply() divides back
            self.optimizer.scale_loss(loss).backward()
            self._local_batch_size = _batch_len(x)  # weights this process's gradients under data parallelism
            self.optimizer.apply([p.grad for p in params], params)
            self._local_batch_size = None
            for p in params:
                p.grad = None
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=3)
        return x, y, sample_weight, y_pred

    def test_step(self, data):
        """Loss and metrics on a batch without training (``data`` packed as for ``train_step``)."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        x, y, sample_weight = self._on_model_device(x, y, sample_weight)
        with no_grad():
            y_pred = self(x, training=False)
            loss = self._compute_loss(x, y, y_pred, sample_weight, False)
            self._loss_tracker.update_state(np.asarray(float(_data(loss))),
                                            sample_weight=np.asarray(float(_batch_len(x))))
            return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data):
        """The model's outputs for a batch (``data`` packed as for ``train_step``; y is ignored)."""
        x, _, _ = unpack_x_y_sample_weight(data)
        (x,) = self._on_model_device(x)
        with no_grad():
            return self(x, training=False)

    # ------------------------------------------------------------------ checks before training
    def _check_data(self, x, y, where="fit"):
        data_adapter.check_finite(x, "x", where)
        if y is not None:
            data_adapter.check_finite(y, "y", where)
        self._check_input_shapes(x, where)
        if y is not None and not data_adapter.is_iterator_like(y) and not self._keys_guessed:
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
            if len(got) != len(exp) and getattr(self, "_adjusts_input_rank", False):  # as Keras's Functional
                if len(got) == len(exp) - 1 and exp[-1] == 1:
                    got += (1,)
                elif len(got) == len(exp) + 1 and got[-1] == 1:
                    got = got[:-1]
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
        struct = getattr(self, "_outputs_struct", None)
        if isinstance(struct, dict):
            return [struct[k].shape if hasattr(struct[k], "shape") else None for k in self._output_names_for_compile()]
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
        multi-input/output models), a generator / iterable of batches, or a ``core.data.Dataset``.
        Each batch goes to ``train_step(data)`` packed as Keras packs it."""
        self._require_compiled("fit")
        x = self._texts_as_array(x)
        if validation_split and validation_data is None:
            if data_adapter.is_iterator_like(x):
                raise ValueError("validation_split is only supported for array inputs; pass validation_data")
            (x, y, sample_weight), val = data_adapter.train_validation_split((x, y, sample_weight), validation_split)
            validation_data = val
        dist = distribute.distribution()
        train = data_adapter.get_adapter(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                                         steps=steps_per_epoch, class_weight=class_weight)
        self._check_data(x, y, "fit")
        val = None
        if validation_data is not None:
            vx, vy, vsw = data_adapter.unpack_validation(validation_data)
            self._check_data(vx, vy, "fit (validation_data)")
            val = data_adapter.get_adapter(vx, vy, vsw, batch_size=validation_batch_size or batch_size,
                                           shuffle=False, steps=validation_steps)
        verbose = _resolve_verbose(verbose) if distribute.writes_files() else 0  # rank 0 alone prints
        if dist is not None:
            return self._fit_distributed(dist, train, val, verbose, callbacks, epochs, initial_epoch,
                                         validation_freq)
        return self._fit_loop(train, val, verbose, callbacks, epochs, initial_epoch, validation_freq)

    def _fit_distributed(self, dist, train, val, *args):
        """``fit`` data-parallel: each process trains on its shares of the batches, from rank 0's
        weights, with averaged gradients and metrics summed over every process."""
        data_adapter.shard(train, dist)
        if val is not None:
            data_adapter.shard(val, dist)
        self._distribution = dist
        self._local_batch_size = None
        # the gradients are averaged in optimizer.apply, so a custom train_step's are too (its shares
        # weighted equally); an instance attribute wraps any optimizer class while fit runs
        opt = self.optimizer
        plain_apply = opt.apply

        def apply(grads, params=None):
            count = 1 if self._local_batch_size is None else self._local_batch_size
            return plain_apply(dist.average_gradients(list(grads), count), params)

        opt.apply = apply
        try:
            return self._fit_loop(train, val, *args)
        finally:
            self._distribution = None
            del opt.apply

    def _fit_loop(self, train, val, verbose, callbacks, epochs, initial_epoch, validation_freq):
        from .. import callbacks as callbacks_mod

        cbs = callbacks_mod.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                         verbose=verbose, epochs=epochs, steps=train.steps_per_epoch)
        self.stop_training = False
        self._prepare_metrics(train)
        # Keras skips the batch hooks when no callback implements them; the running logs are then
        # only needed at the end of the epoch. The default train_step runs without packing the batch.
        batch_hooks = _implements_train_batch_hooks(cbs)
        if getattr(self, "_distribution", None) is not None:  # every rank takes the same path (collectives)
            batch_hooks = any(distribute.allgather_object(batch_hooks))
        plain_step = self._default_steps()
        dist = getattr(self, "_distribution", None)
        # data-parallel: a callback (or a custom train_step) may set stop_training on one rank only; every
        # rank stops where any rank asked to (one small allreduce a step, only when such code runs per step)
        stop_each_step = dist is not None and any(distribute.allgather_object(batch_hooks or not plain_step))
        self._initial_epoch = None
        cbs.on_train_begin()
        # a callback that restored a backup (BackupAndRestore) sets where training resumes, as in Keras
        initial_epoch = self._initial_epoch or initial_epoch
        if getattr(self, "_distribution", None) is not None:  # after a callback restored a backup: rank 0's
            self._distribution.sync_parameters(self)
            initial_epoch = int(distribute.broadcast(np.asarray(initial_epoch, dtype=np.int64)))
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            logs = None
            for step, (xb, yb, swb) in enumerate(train.epoch_batches()):
                if batch_hooks:
                    cbs.on_train_batch_begin(step)
                if dist is not None and _batch_len(xb) == 0:
                    logs = self._empty_share_step(plain_step and not batch_hooks)
                elif plain_step and not batch_hooks:
                    _, yb, swb, pred = self._train_batch(xb, yb, swb)
                    self._update_compiled_metrics(yb, pred, swb)
                else:
                    logs = self.train_step(pack_x_y_sample_weight(xb, yb, swb))
                if batch_hooks:
                    cbs.on_train_batch_end(step, _pythonify_logs(logs))
                if stop_each_step:
                    self.stop_training = dist.any_rank(self.stop_training)
                if self.stop_training:
                    break
            epoch_logs = dict(self._metrics_result_or_logs(logs))
            if val is not None and (epoch + 1) % validation_freq == 0 if isinstance(validation_freq, int) \
                    else (val is not None and epoch + 1 in validation_freq):
                val_logs = self._run_evaluation(val, cbs, from_fit=True)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            if dist is not None:
                self.stop_training = dist.any_rank(self.stop_training)
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs)
        return self.history

    def _empty_share_step(self, quiet_step):
        """Data-parallel step of a rank whose share of a global batch is empty (a batch of fewer
        samples than ranks): no forward pass (its loss would be the mean of nothing), zero gradients
        with weight 0 into the step's allreduce, so every rank applies the other ranks' average; then
        the metrics' results (a collective) where the other ranks' train_step takes them."""
        if not self._default_steps():
            raise ValueError("DataParallel: a global batch has fewer samples than processes, so this rank has none, "
                             "and a custom train_step cannot run on no samples: use a batch_size of at least the "
                             "number of processes (and drop a smaller last batch)")
        if any(getattr(layer, "synchronized", False) for layer in _all_layers(self)):
            raise ValueError("DataParallel: a global batch has fewer samples than processes, so this rank has none, "
                             "and BatchNormalization(synchronized=True) needs every rank in its forward pass: use a "
                             "batch_size of at least the number of processes (and drop a smaller last batch)")
        params = self.trainable_weights
        self._local_batch_size = 0
        try:
            self.optimizer.apply([backend.get_xp(p.data).zeros_like(p.data) for p in params], params)
        finally:
            self._local_batch_size = None
        return None if quiet_step else self.get_metrics_result()

    def _default_steps(self):
        """Whether train_step and the metric hooks it calls are the built-in ones."""
        cls = type(self)
        return (cls.train_step is TrainingMixin.train_step and cls.compute_metrics is TrainingMixin.compute_metrics
                and cls.get_metrics_result is TrainingMixin.get_metrics_result)

    def _metrics_result_or_logs(self, logs):
        """The epoch's logs: the metrics' results when the step's logs name the same metrics (or the
        step returned none), else what the (custom) step returned, as Keras."""
        result = self.get_metrics_result()
        if logs is None or (isinstance(logs, dict) and set(logs) == set(result)):
            return result
        return _pythonify_logs(logs)

    def _prepare_metrics(self, adapter):
        """Resolve "accuracy"-like metrics from a first batch before training, so that callbacks see
        the metric objects at ``on_train_begin`` (Keras builds them symbolically)."""
        if self._keys_guessed:
            if not (self._user_compile[2] or self._user_compile[3]):
                return  # no metrics: the losses resolve on the first step
        elif self._compiled_metrics is None or self._compiled_metrics_built():
            return
        if type(self).call is Layer.call:
            return  # no call() (a train_step drives sub-models): "accuracy" resolves on its first update
        xb, yb, _ = adapter.peek()
        if yb is None:
            return
        with no_grad():
            pred = self(xb, training=False)
        self._resolve_from_prediction(pred)
        if self._compiled_metrics is None:
            return
        ys, preds = self._as_output_list(yb), self._pred_list(pred)
        for i, _, m, _ in self._compiled_metrics._entries:
            if ys[i] is not None and hasattr(m, "resolve"):
                m.resolve(tuple(ys[i].shape), tuple(preds[i].shape))

    def _compiled_metrics_built(self):
        return all(getattr(m, "resolved", True) is not None for m in self._compiled_metrics.metrics)

    def _run_evaluation(self, adapter, cbs, from_fit=False):
        self.reset_metrics()
        cbs.on_test_begin()
        logs = None
        sharded = getattr(self, "_distribution", None) is not None
        for step, (xb, yb, swb) in enumerate(adapter.epoch_batches()):
            cbs.on_test_batch_begin(step)
            if sharded and _batch_len(xb) == 0 and type(self).test_step is TrainingMixin.test_step:
                logs = self.get_metrics_result()  # an empty share adds nothing to the summed states (a collective)
            else:
                logs = self.test_step(pack_x_y_sample_weight(xb, yb, swb))
            cbs.on_test_batch_end(step, _pythonify_logs(logs))
        logs = self._metrics_result_or_logs(logs)
        cbs.on_test_end(logs)
        return logs

    # ------------------------------------------------------------------ evaluate / predict
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss and metrics on the data: a scalar (loss only), a list ``[loss, *metrics]``, or a dict."""
        from .. import callbacks as callbacks_mod

        self._require_compiled("evaluate")
        x = self._texts_as_array(x)
        self._check_data(x, y, "evaluate")
        adapter = data_adapter.get_adapter(x, y, sample_weight, batch_size=batch_size, shuffle=False, steps=steps)
        self._prepare_metrics(adapter)
        verbose = _resolve_verbose(verbose)
        cbs = callbacks_mod.CallbackList(callbacks, add_history=False, add_progbar=verbose != 0, model=self,
                                         verbose=verbose, epochs=1, steps=adapter.steps_per_epoch)
        # data-parallel: each rank evaluates its shares of the batches, the metric states summed
        dist, outer = distribute.distribution(), getattr(self, "_distribution", None)
        data_adapter.shard(adapter, dist)
        self._distribution = dist
        try:
            logs = self._run_evaluation(adapter, cbs)
        finally:
            self._distribution = outer
        if return_dict:
            return logs
        return self._flatten_metrics_in_order(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for the inputs, batched, as NumPy arrays (a list/dict for multi-output models)."""
        from .. import callbacks as callbacks_mod

        x = self._texts_as_array(x)
        data_adapter.check_finite(x, "x", "predict")
        self._check_input_shapes(x, "predict")
        adapter = data_adapter.get_adapter(x, None, None, batch_size=batch_size, shuffle=False, steps=steps)
        dist = distribute.distribution()
        data_adapter.shard(adapter, dist)  # data-parallel: each rank predicts its shares of the batches
        verbose = _resolve_verbose(verbose)
        cbs = callbacks_mod.CallbackList(callbacks, add_history=False, add_progbar=verbose != 0, model=self,
                                         verbose=verbose, epochs=1, steps=adapter.steps_per_epoch)
        cbs.on_predict_begin()
        outs = []
        for step, (xb, _, _) in enumerate(adapter.epoch_batches()):
            cbs.on_predict_batch_begin(step)
            if dist is not None and _batch_len(xb) == 0:  # an empty share (a batch of fewer samples than ranks)
                outs.append(None)
                cbs.on_predict_batch_end(step, {"outputs": None})
                continue
            out = self.predict_step(pack_x_y_sample_weight(xb))
            outs.append(_to_numpy_structure(out))
            cbs.on_predict_batch_end(step, {"outputs": outs[-1]})
        cbs.on_predict_end()
        if dist is not None:  # every rank gets the whole output in input order: batch by batch, rank by rank
            parts = distribute.allgather_object(outs)
            outs = [part[b] for b in range(len(outs)) for part in parts if part[b] is not None]
        if not outs:
            raise ValueError("predict: the input data is empty")
        return _concat_structure(outs)

    def _batch_data(self, x, y, sample_weight, where):
        x = self._texts_as_array(x)
        self._check_data(x, y, where)
        data_adapter.check_finite(sample_weight, "sample_weight", where)
        x, y, sample_weight = data_adapter.to_tensors(x), data_adapter.to_tensors(y), data_adapter.to_tensors(sample_weight)
        if self._compiled_metrics is not None and y is not None and not self._compiled_metrics_built():
            with no_grad():
                pred = self(x, training=False)
            self._resolve_from_prediction(pred)
        return pack_x_y_sample_weight(x, y, sample_weight)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns the loss (and metrics) of that batch."""
        self._require_compiled("train_on_batch")
        if class_weight is not None:
            sample_weight = data_adapter.class_weight_to_sample_weight(y, class_weight, sample_weight)
        data = self._batch_data(x, y, sample_weight, "train_on_batch")
        self.reset_metrics()
        logs = self.train_step(data)
        return self._format_logs(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) of one batch, without training."""
        self._require_compiled("test_on_batch")
        data = self._batch_data(x, y, sample_weight, "test_on_batch")
        self.reset_metrics()
        logs = self.test_step(data)
        return self._format_logs(logs, return_dict)

    def predict_on_batch(self, x):
        x = self._texts_as_array(x)
        return _to_numpy_structure(self.predict_step(pack_x_y_sample_weight(data_adapter.to_tensors(x))))

    def _texts_as_array(self, x):
        """A Python list of strings given to a one-input model is that input's samples (Keras)."""
        if type(x) is list and len(getattr(self, "_flat_inputs", ())) <= 1:
            return data_adapter.texts_as_array(x)
        return x

    def _format_logs(self, logs, return_dict):
        logs = self._metrics_result_or_logs(logs)
        if return_dict:
            return logs
        return self._flatten_metrics_in_order(logs)


def _metric_attributes(obj):
    """The ``Metric`` objects an object holds as attributes (or in lists of them), in assignment
    order; the compile state of a model is not among them."""
    out = []
    for key, value in vars(obj).items():
        if key in _COMPILE_ATTRS:
            continue
        if isinstance(value, metrics_mod.Metric):
            out.append(value)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, metrics_mod.Metric) for v in value):
            out.extend(value)
    return out


_COMPILE_ATTRS = frozenset({"_loss_tracker", "_compiled_metrics", "_output_loss_trackers", "_metric_specs",
                            "_weighted_metric_specs", "_user_compile", "_losses_per_output", "_compile_args"})


_TRAIN_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")


def _implements_train_batch_hooks(cbs) -> bool:
    """Whether any callback of the list has its own train-batch hook (a method or an attribute)."""
    from ..callbacks import Callback

    for cb in getattr(cbs, "callbacks", ()):
        for name in _TRAIN_BATCH_HOOKS:
            if getattr(getattr(cb, name, None), "__func__", None) is not getattr(Callback, name):
                return True
    return False


def _resolve_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return verbose


def _pythonify_logs(logs):
    """Logs as callbacks get them (Keras's ``pythonify_logs``): nested dicts merged in, scalar
    Tensors and arrays as floats."""
    if not isinstance(logs, dict):
        return logs
    out = {}
    for key, value in logs.items():
        if isinstance(value, dict):
            out.update(_pythonify_logs(value))
            continue
        if isinstance(value, Tensor):
            value = backend.to_numpy(value.data)
        if isinstance(value, (np.ndarray, np.generic)) and value.size == 1:
            value = float(value)
        out[key] = value
    return out


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _all_layers(layer):
    """``layer``'s sublayers at any depth."""
    out, seen, stack = [], {id(layer)}, list(layer._layers)
    while stack:
        sub = stack.pop(0)
        if id(sub) not in seen:
            seen.add(id(sub))
            out.append(sub)
            stack.extend(sub._layers)
    return out


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
