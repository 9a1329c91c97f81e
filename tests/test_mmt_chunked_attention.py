"""Chunked causal attention (mmt_jax.chunked_attention) against jax.nn.dot_product_attention:
the same outputs and gradients for any chunk size, with and without key lengths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmt_jax.chunked_attention import chunked_attention

B, T, H, D = 3, 37, 2, 8


def _inputs(seed):
    keys = jax.random.split(jax.random.key(seed), 4)
    q, k, v, probe = (jax.random.normal(key, (B, T, H, D)) for key in keys)
    return q, k, v, probe


def _reference(q, k, v, lengths, scale):
    out = jax.nn.dot_product_attention(q, k, v, scale=scale, is_causal=True, key_value_seq_lengths=lengths)
    if lengths is None:
        return out
    return jnp.where(lengths[:, None, None, None] > 0, out, 0.0)  # a row of length 0 gives zeros


def _value_and_grads(fn, q, k, v, probe):
    loss = lambda *a: jnp.sum(fn(*a).astype(jnp.float32) * probe)  # noqa: E731
    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))(q, k, v)


@pytest.mark.parametrize("chunk", [5, 128])
@pytest.mark.parametrize("lengths", [None, (37, 20, 1), (37, 9, 0)])
def test_outputs_and_gradients_equal_dot_product_attention(chunk, lengths):
    q, k, v, probe = _inputs(chunk)
    lengths = None if lengths is None else jnp.array(lengths)
    scale = 0.3
    want = _reference(q, k, v, lengths, scale)
    got = chunked_attention(q, k, v, lengths, scale, chunk=chunk)
    np.testing.assert_allclose(got, want, atol=2e-6)
    _, want_grads = _value_and_grads(lambda *a: _reference(*a, lengths, scale), q, k, v, probe)
    _, got_grads = _value_and_grads(
        lambda *a: chunked_attention(*a, lengths, scale, chunk=chunk), q, k, v, probe
    )
    for got_grad, want_grad in zip(got_grads, want_grads):
        np.testing.assert_allclose(got_grad, want_grad, atol=1e-5)


def test_padding_and_the_future_do_not_leak():
    """Changing keys/values past a row's length, or past a query, leaves that output alone."""
    q, k, v, _ = _inputs(7)
    lengths = jnp.array([37, 12, 25])
    out = chunked_attention(q, k, v, lengths, chunk=8)
    later = jnp.arange(T)[None, :, None, None] >= jnp.array([37, 12, 25])[:, None, None, None]
    noisy = chunked_attention(q, jnp.where(later, 9.0, k), jnp.where(later, -9.0, v), lengths, chunk=8)
    np.testing.assert_allclose(noisy, out, atol=1e-6)
    future = jnp.arange(T)[None, :, None, None] > 20
    first = chunked_attention(q, k, v, None, chunk=8)
    changed = chunked_attention(q, jnp.where(future, 5.0, k), jnp.where(future, 5.0, v), None, chunk=8)
    np.testing.assert_allclose(changed[:, :21], first[:, :21], atol=1e-6)
    assert not np.allclose(changed[:, 21:], first[:, 21:])


def test_bfloat16_products_stay_close_and_return_bfloat16():
    q, k, v, probe = _inputs(3)
    lengths = jnp.array([37, 20, 5])
    half = [t.astype(jnp.bfloat16) for t in (q, k, v)]
    out = chunked_attention(*half, lengths, chunk=16)
    assert out.dtype == jnp.bfloat16
    want = _reference(q, k, v, lengths, D**-0.5)
    np.testing.assert_allclose(out.astype(jnp.float32), want, atol=0.03)
    _, grads = _value_and_grads(lambda *a: chunked_attention(*a, lengths, chunk=16), *half, probe)
    _, want_grads = _value_and_grads(lambda *a: _reference(*a, lengths, D**-0.5), q, k, v, probe)
    for grad, want_grad in zip(grads, want_grads):
        assert grad.dtype == jnp.bfloat16
        scale = float(jnp.abs(want_grad).max())
        np.testing.assert_allclose(grad.astype(jnp.float32), want_grad, atol=0.03 * scale)
