"""zoo: model architectures, the model registry and the weight registry."""
