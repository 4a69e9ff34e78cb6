"""The string hashes of TensorFlow's hash buckets: FarmHash Fingerprint64 (``farmhashna::Hash64``,
``tf.strings.to_hash_bucket_fast``) and keyed SipHash-2-4 (``to_hash_bucket_strong``), vectorised
with NumPy ``uint64`` arithmetic over all strings of the same byte length (each algorithm's path
depends on the length only)."""
from __future__ import annotations

import numpy as np

_U = np.uint64
K0, K1, K2 = _U(0xC3A5C85C97CB3127), _U(0xB492B66FBE98F273), _U(0x9AE16A3B2F90404F)


def _rot(v, s):
    s = int(s)
    return v if s == 0 else (v >> _U(s)) | (v << _U(64 - s))


def _shift_mix(v):
    return v ^ (v >> _U(47))


def _len16(u, v, mul):
    a = (u ^ v) * mul
    a ^= a >> _U(47)
    b = (v ^ a) * mul
    b ^= b >> _U(47)
    return b * mul


def _fetch64(m, i):
    return np.ascontiguousarray(m[:, i:i + 8]).view("<u8")[:, 0].astype(_U)


def _fetch32(m, i):
    return np.ascontiguousarray(m[:, i:i + 4]).view("<u4")[:, 0].astype(_U)


def _weak32(m, i, a, b):
    w, x, y, z = _fetch64(m, i), _fetch64(m, i + 8), _fetch64(m, i + 16), _fetch64(m, i + 24)
    a = a + w
    b = _rot(b + a + z, 21)
    c = a
    a = a + x + y
    b = b + _rot(a, 44)
    return a + z, b + c


def _hash_len(m, n):
    """Fingerprint64 of each row of the (count, n) uint8 matrix ``m``."""
    ln = _U(n)
    if n <= 16:
        if n >= 8:
            mul = K2 + ln * _U(2)
            a = _fetch64(m, 0) + K2
            b = _fetch64(m, n - 8)
            c = _rot(b, 37) * mul + a
            d = (_rot(a, 25) + b) * mul
            return _len16(c, d, mul)
        if n >= 4:
            mul = K2 + ln * _U(2)
            a = _fetch32(m, 0)
            return _len16(ln + (a << _U(3)), _fetch32(m, n - 4), mul)
        if n > 0:
            a, b, c = m[:, 0].astype(_U), m[:, n >> 1].astype(_U), m[:, n - 1].astype(_U)
            y = a + (b << _U(8))
            z = ln + (c << _U(2))
            return _shift_mix(y * K2 ^ z * K0) * K2
        return np.full(m.shape[0], K2, dtype=_U)
    mul = K2 + ln * _U(2)
    if n <= 32:
        a = _fetch64(m, 0) * K1
        b = _fetch64(m, 8)
        c = _fetch64(m, n - 8) * mul
        d = _fetch64(m, n - 16) * K2
        return _len16(_rot(a + b, 43) + _rot(c, 30) + d, a + _rot(b + K2, 18) + c, mul)
    if n <= 64:
        a = _fetch64(m, 0) * K2
        b = _fetch64(m, 8)
        c = _fetch64(m, n - 8) * mul
        d = _fetch64(m, n - 16) * K2
        y = _rot(a + b, 43) + _rot(c, 30) + d
        z = _len16(y, a + _rot(b + K2, 18) + c, mul)
        e = _fetch64(m, 16) * mul
        f = _fetch64(m, 24)
        g = (y + _fetch64(m, n - 32)) * mul
        h = (z + _fetch64(m, n - 24)) * mul
        return _len16(_rot(e + f, 43) + _rot(g, 30) + h, e + _rot(f + a, 18) + g, mul)
    count = m.shape[0]
    seed = _U(81)
    x = np.full(count, seed, _U)
    y = np.full(count, seed * K1 + _U(113), _U)
    z = _shift_mix(y * K2 + _U(113)) * K2
    v0 = v1 = w0 = w1 = np.zeros(count, _U)
    x = x * K2 + _fetch64(m, 0)
    end = ((n - 1) // 64) * 64
    last64 = end + ((n - 1) & 63) - 63
    for s in range(0, end, 64):
        x = _rot(x + y + v0 + _fetch64(m, s + 8), 37) * K1
        y = _rot(y + v1 + _fetch64(m, s + 48), 42) * K1
        x = x ^ w1
        y = y + v0 + _fetch64(m, s + 40)
        z = _rot(z + w0, 33) * K1
        v0, v1 = _weak32(m, s, v1 * K1, x + w0)
        w0, w1 = _weak32(m, s + 32, z + w1, y + _fetch64(m, s + 16))
        z, x = x, z
    mul = K1 + ((z & _U(0xFF)) << _U(1))
    s = last64
    w0 = w0 + _U((n - 1) & 63)
    v0 = v0 + w0
    w0 = w0 + v0
    x = _rot(x + y + v0 + _fetch64(m, s + 8), 37) * mul
    y = _rot(y + v1 + _fetch64(m, s + 48), 42) * mul
    x = x ^ (w1 * _U(9))
    y = y + v0 * _U(9) + _fetch64(m, s + 40)
    z = _rot(z + w0, 33) * mul
    v0, v1 = _weak32(m, s, v1 * mul, x + w0)
    w0, w1 = _weak32(m, s + 32, z + w1, y + _fetch64(m, s + 16))
    z, x = x, z
    return _len16(_len16(v0, w0, mul) + _shift_mix(y) * K0 + z, _len16(v1, w1, mul) + x, mul)


def fingerprint64(strings):
    """Fingerprint64 (uint64) of each string (str or bytes; str is UTF-8 encoded), shaped as the input."""
    return _by_length(strings, _hash_len)


def _rotl(v, s):
    return (v << _U(s)) | (v >> _U(64 - s))


def _sip_round(v0, v1, v2, v3):
    v0 = v0 + v1
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = v2 + v3
    v3 = _rotl(v3, 16) ^ v2
    v0 = v0 + v3
    v3 = _rotl(v3, 21) ^ v0
    v2 = v2 + v1
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def _siphash_len(m, n, k0, k1):
    count = m.shape[0]
    v0 = np.full(count, k0 ^ _U(0x736F6D6570736575), _U)
    v1 = np.full(count, k1 ^ _U(0x646F72616E646F6D), _U)
    v2 = np.full(count, k0 ^ _U(0x6C7967656E657261), _U)
    v3 = np.full(count, k1 ^ _U(0x7465646279746573), _U)
    full = n - n % 8
    for i in range(0, full, 8):
        word = _fetch64(m, i)
        v3 ^= word
        for _ in range(2):
            v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
        v0 ^= word
    last = np.full(count, _U(n & 0xFF) << _U(56), _U)
    for j in range(n % 8):
        last |= m[:, full + j].astype(_U) << _U(8 * j)
    v3 ^= last
    for _ in range(2):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    v0 ^= last
    v2 ^= _U(0xFF)
    for _ in range(4):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def _by_length(strings, fn):
    arr = np.asarray(strings, dtype=object)
    flat = [s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in arr.reshape(-1)]
    out = np.zeros(len(flat), _U)
    lengths = np.fromiter((len(b) for b in flat), dtype=np.int64, count=len(flat))
    with np.errstate(over="ignore"):
        for n in np.unique(lengths):
            idx = np.nonzero(lengths == n)[0]
            m = np.frombuffer(b"".join(flat[i] for i in idx), dtype=np.uint8).reshape(len(idx), int(n))
            out[idx] = fn(m, int(n))
    return out.reshape(arr.shape)


def siphash64(strings, key):
    """SipHash-2-4 (uint64) of each string with the 128-bit ``key`` = (k0, k1), as TensorFlow's
    ``strings.to_hash_bucket_strong`` computes it before taking the bucket."""
    k0, k1 = (_U(int(k) & 0xFFFFFFFFFFFFFFFF) for k in key)
    return _by_length(strings, lambda m, n: _siphash_len(m, n, k0, k1))
