"""Gradient checks of whole compositions across op families (float64 central differences)."""
import numpy as np
import pytest

from core import Tensor, ops
from core.gradient_check import check_gradients

rng = np.random.default_rng(7)


@pytest.mark.slow
def test_conv_bn_relu_pool_block():
    x = rng.standard_normal((2, 7, 6, 3))
    k = rng.standard_normal((3, 3, 3, 4)) * 0.5
    b = rng.standard_normal(4) * 0.1
    gamma = rng.uniform(0.5, 1.5, 4)
    beta = rng.standard_normal(4) * 0.1

    def block(x, k, b, gamma, beta):
        mm, mv = np.zeros(4), np.ones(4)  # fresh moving statistics for every evaluation
        h = ops.conv2d(x, k, b, strides=1, padding="same")
        h = ops.batch_norm(h, gamma, beta, mm, mv, training=True, momentum=0.9, epsilon=1e-3)
        h = ops.relu(h)
        return ops.max_pool2d(h, 2, strides=2, padding="same")

    check_gradients(block, [x, k, b, gamma, beta])


def test_conv_bn_relu_pool_block_inference_mode():
    x = rng.standard_normal((2, 6, 6, 2))
    k = rng.standard_normal((3, 3, 2, 3)) * 0.5
    gamma, beta = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)
    mm, mv = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)

    def block(x, k, gamma, beta):
        h = ops.conv2d(x, k, strides=2, padding="same")
        h = ops.batch_norm(h, gamma, beta, mm, mv, training=False)
        return ops.avg_pool2d(ops.relu(h), 2, padding="same")

    check_gradients(block, [x, k, gamma, beta])


def test_embedding_lstm_dense_softmax_loss():
    ids = np.array([[3, 1, 4, 0], [2, 2, 0, 0]])
    mask = ids != 0
    table = rng.standard_normal((5, 3)) * 0.5
    kern, rec = rng.standard_normal((3, 8)) * 0.5, rng.standard_normal((2, 8)) * 0.5
    bias = rng.standard_normal(8) * 0.1
    w = rng.standard_normal((2, 4))
    y = np.array([1, 3])

    def model(table, kern, rec, bias, w):
        e = ops.embedding(ids, table)
        _, h, _ = ops.lstm(e, kern, rec, bias, mask=mask)
        return ops.mean(ops.sparse_categorical_crossentropy(y, ops.matmul(h, w), from_logits=True))

    check_gradients(model, [table, kern, rec, bias, w])


def test_attention_block_with_layer_norm_and_residual():
    x = rng.standard_normal((2, 4, 6))
    wq, wk, wv = (rng.standard_normal((6, 6)) * 0.4 for _ in range(3))
    gamma, beta = rng.uniform(0.5, 1.5, 6), rng.standard_normal(6) * 0.1
    kpm = np.array([[True, True, True, False], [True, True, True, True]])

    def block(x, wq, wk, wv, gamma, beta):
        def heads(t):  # (B, T, 6) -> (B, 2, T, 3)
            return ops.transpose(ops.reshape(t, (2, 4, 2, 3)), (0, 2, 1, 3))

        q, k, v = heads(x @ wq), heads(x @ wk), heads(x @ wv)
        a = ops.scaled_dot_product_attention(q, k, v, key_padding_mask=kpm, causal=True)
        a = ops.reshape(ops.transpose(a, (0, 2, 1, 3)), (2, 4, 6))
        return ops.layer_norm(x + a, gamma, beta, epsilon=1e-6)

    check_gradients(block, [x, wq, wk, wv, gamma, beta])


def test_gru_then_global_pool_and_dropout_free_path():
    x = rng.standard_normal((2, 5, 3))
    kern, rec = rng.standard_normal((3, 6)) * 0.5, rng.standard_normal((2, 6)) * 0.5
    bias = rng.standard_normal((2, 6)) * 0.1

    def model(x, kern, rec, bias):
        seq, _ = ops.gru(x, kern, rec, bias, return_sequences=True, reset_after=True)
        return ops.dropout(ops.global_avg_pool1d(seq), 0.5, training=False)

    check_gradients(model, [x, kern, rec, bias])


def test_depthwise_separable_block_float32_end_to_end():
    x = Tensor(rng.standard_normal((2, 8, 8, 4)).astype(np.float32), requires_grad=True)
    dk = Tensor(rng.standard_normal((3, 3, 4, 1)).astype(np.float32), requires_grad=True)
    pk = Tensor(rng.standard_normal((1, 1, 4, 5)).astype(np.float32), requires_grad=True)
    y = ops.conv2d(ops.relu6(ops.depthwise_conv2d(x, dk, padding="same")), pk)
    y = ops.global_avg_pool2d(y)
    assert y.dtype == np.float32 and y.shape == (2, 5)
    y.sum().backward()
    assert all(t.grad.dtype == np.float32 for t in (x, dk, pk))
