"""The ``zoo`` command. Heavy modules are imported inside commands so ``--help`` stays fast."""
from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zoo")
def main():
    """zoo: classify images, fine-tune pretrained models, forecast time series, manage weights."""


@main.command("demo")
@click.option("--epochs", default=20, show_default=True, help="Training epochs.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
def demo(epochs: int, seed: int):
    """Train a small MLP with the engine on a synthetic two-spirals task and report accuracy."""
    from apps.demo import train_spirals

    acc = train_spirals(epochs=epochs, seed=seed)
    click.echo(f"final training accuracy: {acc:.3f}")


main.add_command(__import__("apps.weights_cmd", fromlist=["weights"]).weights)


if __name__ == "__main__":
    main()
