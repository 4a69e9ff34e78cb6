"""The ``zoo`` command. Subcommands live in their own modules and are imported only when run,
so ``zoo --help`` and every ``--help`` stay fast (no numpy at import time)."""
from __future__ import annotations

import importlib
import importlib.util

import click

# name -> (module, attribute, short help shown by `zoo --help` without importing the module)
LAZY_COMMANDS = {
    "classify": ("apps.classify_cmd", "classify", "Classify images with a pretrained or trained model."),
    "image": ("apps.image_cmd", "image", "Fine-tune, evaluate and apply image classifiers."),
    "text": ("apps.text_cmd", "text", "Train, evaluate and apply text classifiers."),
    "forecast": ("apps.forecast_cmd", "forecast", "Train, backtest and apply time-series forecasters."),
    "weights": ("apps.weights_cmd", "weights", "Manage pretrained weights: list, download, verify, import."),
    "export": ("apps.export_cmd", "export", "Export a model file to ONNX."),
    "serve": ("apps.serve_cmd", "serve", "Serve a model's predictions over HTTP."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | {n for n, (m, _, _) in LAZY_COMMANDS.items()
                                                         if importlib.util.find_spec(m) is not None})

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in LAZY_COMMANDS:
            return cmd
        module, attr, _ = LAZY_COMMANDS[name]
        if importlib.util.find_spec(module) is None:
            return None
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = []
        for name in self.list_commands(ctx):
            if name in LAZY_COMMANDS and name not in self.commands:
                rows.append((name, LAZY_COMMANDS[name][2]))
            else:
                cmd = self.get_command(ctx, name)
                rows.append((name, cmd.get_short_help_str() if cmd else ""))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zoo")
def main():
    """zoo: classify images, fine-tune pretrained models, forecast time series, manage weights."""


@main.command("demo")
@click.option("--epochs", default=20, show_default=True, type=click.IntRange(1), help="Training epochs.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No per-epoch lines.")
@click.option("--device", default=None, help="cpu, gpu or gpu:N (gpu needs CuPy). [default: $ZOO_DEVICE, else cpu]")
def demo(epochs: int, seed: int, as_json: bool, quiet: bool, device):
    """Train a small MLP with the engine on a synthetic two-spirals task and report accuracy."""
    import json

    from apps.demo import train_spirals
    from apps.options import use_device

    use_device(device)
    acc = train_spirals(epochs=epochs, seed=seed, verbose=not quiet)
    if as_json:
        click.echo(json.dumps({"epochs": epochs, "seed": seed, "accuracy": acc}))
    else:
        click.echo(f"final training accuracy: {acc:.3f}")


if __name__ == "__main__":
    main()
