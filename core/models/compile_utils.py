"""What ``compile`` configures, resolved per model output as Keras 3's compile does: the loss and
loss weight of each output, the compiled metrics (one ``CompiledMetrics`` container in
``model.metrics``, as Keras's ``compile_metrics``) and the per-output loss trackers."""
from __future__ import annotations

from .. import losses as losses_mod
from .. import metrics as metrics_mod


def is_config(spec) -> bool:
    """A serialized object (``{"class_name": ..., "config": ...}``): one loss or metric, not a dict
    by output name."""
    return isinstance(spec, dict) and "class_name" in spec


def _is_nested(spec) -> bool:
    return isinstance(spec, (list, tuple)) or (isinstance(spec, dict) and not is_config(spec))


def is_per_output(spec) -> bool:
    """A loss or loss-weight spec given per output (a dict by name, or a list of several)."""
    return (isinstance(spec, dict) and not is_config(spec)) or (isinstance(spec, (list, tuple)) and len(spec) > 1)


def _leaves(spec):
    if isinstance(spec, (list, tuple)):
        return [leaf for s in spec for leaf in _leaves(s)]
    if _is_nested(spec):
        return [leaf for s in spec.values() for leaf in _leaves(s)]
    return [spec]


def validate_loss_spec(loss):
    """Resolve every loss named in ``loss`` now, so that a typo fails at compile time."""
    for leaf in _leaves(loss):
        if leaf is not None:
            losses_mod.get(leaf)


def validate_metric_spec(metrics, argument):
    if metrics is None:
        return
    if not _is_nested(metrics):
        raise ValueError(f"compile: `{argument}` must be a list, tuple or dict (by output name), got {metrics!r}; "
                         f"write {argument}=[{metrics!r}]")
    for leaf in _leaves(metrics):
        if isinstance(leaf, str) and leaf.lower() in ("accuracy", "acc", "crossentropy", "ce"):
            continue
        if leaf is not None:
            metrics_mod.get(leaf)


def losses_per_output(loss, keys):
    """One Loss (or None: no loss for that output) per output, from a single loss (every output
    gets it), a list (one per output) or a dict by output name."""
    n = len(keys)
    if loss is None:
        return [None] * n
    if _is_nested(loss) and isinstance(loss, dict):
        unknown = [k for k in loss if k not in keys]
        if unknown:
            raise ValueError(f"compile: loss given for {unknown}, which are not outputs of the model "
                             f"(outputs: {keys})")
        return [losses_mod.get(loss[k]) if loss.get(k) is not None else None for k in keys]
    if isinstance(loss, (list, tuple)):
        if len(loss) != n:
            raise ValueError(f"compile: {len(loss)} losses for {n} output(s) {keys}; give one loss per output "
                             "(None for an output without a loss) or a dict by output name")
        return [losses_mod.get(item) if item is not None else None for item in loss]
    return [losses_mod.get(loss) for _ in keys]


def loss_weights_per_output(loss_weights, keys):
    n = len(keys)
    if loss_weights is None:
        return [1.0] * n
    if isinstance(loss_weights, dict):
        unknown = [k for k in loss_weights if k not in keys]
        if unknown:
            raise ValueError(f"compile: loss_weights names {unknown} are not outputs of the model {keys}")
        return [float(loss_weights.get(k, 1.0)) for k in keys]
    if isinstance(loss_weights, (list, tuple)):
        if len(loss_weights) != n:
            raise ValueError(f"compile: {len(loss_weights)} loss_weights for {n} output(s) {keys}")
        return [float(w) for w in loss_weights]
    if n != 1:
        raise ValueError(f"compile: a single float loss_weights is for one-output models; this model has "
                         f"{n} outputs {keys}: pass a list or a dict by output name")
    return [float(loss_weights)]


def metrics_per_output(metrics, keys, argument="metrics"):
    """A list of metric specs per output, by Keras 3's rules: one output takes every metric given;
    several outputs take a list with one entry (a metric or a list of them) per output, or a dict
    by output name."""
    n = len(keys)
    if not metrics:
        return [[] for _ in keys]
    if n == 1:
        return [[m for m in _leaves(metrics) if m is not None]]
    if isinstance(metrics, dict):
        unknown = [k for k in metrics if k not in keys]
        if unknown:
            raise ValueError(f"compile: {argument} given for {unknown}, which are not outputs of the model {keys}")
        per = [metrics.get(k) for k in keys]
    elif isinstance(metrics, (list, tuple)) and len(metrics) == n:
        per = list(metrics)
    else:
        raise ValueError(f"compile: the model has {n} outputs {keys}, so `{argument}` must be a dict by output name "
                         f"or a list with one entry (a metric or a list of metrics) per output; got {metrics!r}")
    return [[] if m is None else ([x for x in m if x is not None] if isinstance(m, (list, tuple)) else [m])
            for m in per]


class CompiledMetrics(metrics_mod.Metric):
    """The metrics given to ``compile``, updated per output; ``result()`` is a dict named as Keras
    names the logs (``accuracy``; ``<output>_accuracy`` with several outputs; a weighted metric
    whose name is taken becomes ``weighted_<name>``)."""

    def __init__(self, metric_specs, weighted_specs, keys, losses, split):
        super().__init__(name="compile_metrics")
        self._split = split  # (y, y_pred, sample_weight) -> one list per output (the model's outputs)
        multi = len(keys) > 1
        self._entries = []  # (output index, log name, metric, weighted)
        taken = {}

        def add(i, spec, weighted):
            m = metrics_mod.get(spec, loss=losses[i])
            base = f"{keys[i]}_{m.name}" if multi else m.name
            name = base
            if name in taken:
                if weighted:
                    name = f"{keys[i]}_weighted_{m.name}" if multi else f"weighted_{m.name}"
                if name in taken:
                    taken[name] += 1
                    name = f"{name}_{taken[name] - 1}"
            taken.setdefault(name, 1)
            self._entries.append((i, name, m, weighted))

        for i, specs in enumerate(metric_specs):
            for spec in specs:
                add(i, spec, False)
        for i, specs in enumerate(weighted_specs):
            for spec in specs:
                add(i, spec, True)

    @property
    def metrics(self):
        return [m for _, _, m, _ in self._entries]

    @property
    def variables(self):
        out = []
        for m in self.metrics:
            out.extend(m.variables)
        return out

    def update_state(self, y_true, y_pred, sample_weight=None):
        """``y_true``/``y_pred``/``sample_weight`` as the model's outputs are structured (a dict by
        output name, a list, or one array); an output without a target is skipped."""
        ys, preds, sample_weights = self._split(y_true, y_pred, sample_weight)
        for i, _, m, weighted in self._entries:
            if ys[i] is None:
                continue
            m.update_state(ys[i], preds[i], sample_weight=sample_weights[i] if weighted else None)

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()

    def result(self):
        return {name: m.result() for _, name, m, _ in self._entries}

    def names(self):
        return [name for _, name, _, _ in self._entries]
