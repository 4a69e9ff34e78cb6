"""Keras 3 layers: ``from core.layers import Dense, Conv2D, LSTM, ...``."""
from .base import KerasTensor, Layer, clear_session
from .core_layers import Activation, Dense, Flatten, Identity, Input, InputLayer, Lambda, Permute, RepeatVector, Reshape
