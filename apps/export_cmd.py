"""``zoo export``: write a saved model file or a registry model as ONNX, and check the file against
the project's own ``predict`` with onnxruntime."""
from __future__ import annotations

import json
import os
import time

import click

# model files made by the apps keep these names inside their output folders
_FOLDER_MODEL_FILES = ("model.h5",)


def _register_custom_layers():
    """Import the modules whose custom layers saved models may use (zoo models, text and
    forecasting apps), so ``load_model`` can rebuild them."""
    import importlib

    for mod in ("zoo.models", "apps.text_models", "apps.forecasting.models"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise


def _load(spec, weights):
    """(model, short name) for a saved model file (or an app's output folder) or a registry name."""
    from core.models import load_model

    path = spec
    if os.path.isdir(path):
        found = [os.path.join(path, f) for f in _FOLDER_MODEL_FILES if os.path.isfile(os.path.join(path, f))]
        if not found:
            raise click.ClickException(f"{spec} is a folder without a model file ({', '.join(_FOLDER_MODEL_FILES)})")
        path = found[0]
    if os.path.isfile(path):
        if weights is not None:
            raise click.ClickException("--weights applies to registry models only; a model file has its weights")
        _register_custom_layers()
        try:
            model = load_model(path, compile=False)
        except Exception as e:  # corrupt or foreign files: their readers' messages name the problem
            raise click.ClickException(f"cannot load {path}: {e}") from None
        return model, os.path.splitext(os.path.basename(path))[0]
    import zoo
    from zoo.registry import pretrained_tags

    if os.sep in spec or spec.endswith((".h5", ".hdf5", ".keras")) or spec not in zoo.list_models():
        if os.sep in spec or "." in spec:
            raise click.ClickException(f"model file not found: {spec}")
        raise click.ClickException(f"{spec!r} is neither a model file nor a registry model; registry models: "
                                   f"{', '.join(zoo.list_models())}")
    tags = pretrained_tags(spec)
    if weights is None:
        weights = "imagenet" if "imagenet" in tags else (tags[0] if tags else None)
        if weights is None:
            raise click.ClickException(f"registry model {spec!r} has no pretrained weights; pass --weights PATH, "
                                       "or --weights none to export it with random weights")
    try:
        model = zoo.create_model(spec, weights=None if weights.lower() == "none" else weights)
    except Exception as e:  # unknown tag, download or file errors carry their own message
        raise click.ClickException(str(e)) from None
    return model, spec


def _layout_metadata(model):
    """The input spec recorded in the file, with the layout the exported graph takes: zoo image
    models are channels-last (NHWC), whatever layout the source weights had."""
    spec = (getattr(model, "assets", None) or {}).get("input_spec") or \
        (getattr(model, "pretrained_cfg", None) or {}).get("input")
    inputs = getattr(model, "inputs", None) or []
    if not isinstance(spec, dict) or len(inputs) != 1 or len(inputs[0].shape) != 4:
        return None
    return {"input_spec": dict(spec, layout="NHWC")}


def _input_specs(model):
    """[(name, shape with the batch axis, dtype)] of the model's inputs."""
    from core.models import Sequential

    if isinstance(model, Sequential):
        if model._input_batch_shape is None:
            raise click.ClickException(f"model '{model.name}' has no input shape: it cannot be exported")
        return [("input", tuple(model._input_batch_shape), model._input_dtype or "float32")]
    return [(getattr(getattr(t, "_input_layer", None), "name", f"input_{i}"), tuple(t.shape), t.dtype)
            for i, t in enumerate(model.inputs)]


def _smallest_vocabulary(model):
    from core.layers import Embedding

    seen, stack, sizes = set(), [model], []
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, Embedding):
            sizes.append(layer.input_dim)
        stack.extend(getattr(layer, "_layers", []) or [])
    return min(sizes) if sizes else 10


def _random_inputs(model, batch, seed=0):
    """Random inputs of the model's input spec: normal floats, ids inside the smallest
    vocabulary, all-ones masks; unknown sizes are 32 (images) or 16."""
    import numpy as np

    rng = np.random.default_rng(seed)
    vocab = None
    out = []
    for name, shape, dtype in _input_specs(model):
        dims = [batch] + [d if d is not None else (32 if len(shape) == 4 else 16) for d in shape[1:]]
        dt = np.dtype(dtype)
        if dt.kind == "f":
            x = rng.normal(size=dims).astype(dt)
        elif dt.kind == "b":
            x = np.ones(dims, dt)
        elif "mask" in name.lower():
            x = np.ones(dims, dt)
        else:
            vocab = vocab or _smallest_vocabulary(model)
            x = rng.integers(0, max(vocab, 1), size=dims).astype(dt)
            if x.ndim > 1 and vocab > 1:
                x[:, 0] = 1  # no all-padding row
        out.append(x)
    return out


def _max_difference(got, want):
    """(max |got - want|, allclose at rtol = atol = tol) over the outputs; NaN where both are NaN
    counts as equal."""
    import numpy as np

    worst, bad = 0.0, 0.0
    for a, b in zip(got, want):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape:
            return float("inf"), float("inf")
        both_nan = np.isnan(a) & np.isnan(b)
        d = np.where(both_nan, 0.0, np.abs(a - b))
        d = np.where(np.isnan(d), np.inf, d)
        if d.size:
            worst = max(worst, float(d.max()))
            bad = max(bad, float((d / (1.0 + np.where(both_nan, 0.0, np.abs(b)))).max()))
    return worst, bad


def _verify(model, path, tolerance):
    """Run onnxruntime and ``model.predict`` on a random batch of 2; returns (max abs diff, ok)."""
    import numpy as np
    import onnxruntime as ort

    xs = _random_inputs(model, batch=2)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = {i.name: x for i, x in zip(sess.get_inputs(), xs)}
    got = sess.run(None, feed)
    want = model.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
    want = list(want) if isinstance(want, (list, tuple)) else [want]
    want = [np.asarray(getattr(w, "data", w)) for w in want]
    worst, scaled = _max_difference(got, want)
    return worst, scaled <= tolerance


@click.command("export")
@click.argument("model_spec", metavar="MODEL_FILE_OR_REGISTRY_NAME")
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True,
              help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="File to write (default: the model's name with .onnx, in the current folder).")
@click.option("--opset", default=17, show_default=True, type=click.IntRange(13), help="ONNX opset.")
@click.option("--fold-batchnorm/--no-fold-batchnorm", default=True, show_default=True,
              help="Merge inference batch normalization into the preceding convolution / dense layer.")
@click.option("--verify/--no-verify", default=None,
              help="Compare onnxruntime with the model's predict on a random batch of 2 (default: on when "
                   "onnxruntime is installed).")
@click.option("--tolerance", default=1e-4, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Verification fails when |onnx - predict| > tolerance * (1 + |predict|) anywhere.")
@click.option("--weights", default=None,
              help="Registry models: a weights tag (default imagenet, else the only tag), a file, or 'none' "
                   "for random weights.")
@click.option("--json", "as_json", is_flag=True, help="Print {output, bytes, opset, seconds, verified, max_abs_diff}.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (and the --json line).")
@click.option("--device", default=None, help="Device of the verification's predict: cpu, gpu or gpu:N.")
def export(model_spec, fmt, output, opset, fold_batchnorm, verify, tolerance, weights, as_json, quiet, device):
    """Export MODEL_FILE_OR_REGISTRY_NAME (a file saved by model.save or the apps, an app's output
    folder, or a registry model such as resnet50) to ONNX with a dynamic batch dimension.

    The file records the opset, the input and output names and shapes, and the labels and input
    preprocessing when the model has them (metadata_props).
    """
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise click.ClickException("ONNX export needs the `onnx` package: pip install 'zoo[onnx]' "
                                   "(or pip install onnx onnxruntime)") from None
    have_ort = True
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        have_ort = False
    if verify and not have_ort:
        raise click.ClickException("--verify needs onnxruntime: pip install 'zoo[onnx]' (or pip install "
                                   "onnxruntime), or pass --no-verify")
    verify = have_ort if verify is None else verify
    from apps.options import use_device

    use_device(device)
    say = (lambda m: None) if quiet or as_json else click.echo
    model, short = _load(model_spec, weights)
    output = output or f"{short}.{fmt}"
    from apps.model_files import check_output_file

    check_output_file(output)  # creates its folder
    from core.export import OnnxExportError, export_onnx

    start = time.perf_counter()
    try:
        export_onnx(model, output, opset=opset, fold_batchnorm=fold_batchnorm, metadata=_layout_metadata(model))
    except OnnxExportError as e:
        raise click.ClickException(f"cannot export {model_spec}: {e}") from None
    except OSError as e:
        raise click.ClickException(f"cannot write {output}: {e}") from None
    took = time.perf_counter() - start
    size = os.path.getsize(output)
    say(f"wrote {output} ({size / 2 ** 20:.1f} MiB, opset {opset}) in {took:.2f} s")
    report = {"output": str(output), "bytes": size, "opset": opset, "seconds": round(took, 3), "verified": False,
              "max_abs_diff": None}
    if not verify:
        if not have_ort:
            say("not verified: onnxruntime is not installed (pip install onnxruntime)")
        if as_json:
            click.echo(json.dumps(report))
        return
    try:
        worst, ok = _verify(model, output, tolerance)
    except Exception as e:  # an input the model or the runtime refuses: say which, no traceback
        raise click.ClickException(f"verification could not run: {type(e).__name__}: {e}") from None
    say(f"verified: max abs difference between onnxruntime and predict on a random batch of 2: {worst:.3g}")
    if as_json and ok:
        click.echo(json.dumps(dict(report, verified=True, max_abs_diff=worst)))
    if not ok:
        raise click.ClickException(f"verification failed: the outputs differ by up to {worst:.3g} (more than "
                                   f"{tolerance:g} * (1 + |predict|)); {output} was written but does not "
                                   "reproduce the model")
