"""Arranger's sequence labellers (reference §4), Flax Linen: LSTM / BiLSTM and Transformer-Dec / -Enc.

Every model maps a batch of per-note inputs (from `features`) to K+1 logits per note; class 0 is
padding, classes 1..K the parts. Online models (LSTM, causal Transformer-Dec) see only the current
and earlier notes; offline ones (BiLSTM, Transformer-Enc) see the whole sequence. Padding is
marked by pitch index 0.

Layouts follow the reference's Keras models so its checkpoints can be ported: LSTM kernels are
(in, 4·units) with gates in the order i, f, c, o and one bias; the input vector is concatenated as
pitch | time block | duration | frequency | entry hints | pitch hints. Fixed tables (sinusoidal
beat/time tables, frequency table, positional encoding) are constants, not parameters.

Every parameter carries logical axis names (train_kit.config.DEFAULT_RULES: tables ("vocab",
"embed"), LSTM kernels ("embed", "mlp"), attention ("embed", "joined_kv"), norms ("norm"), ...), so
`mesh.fsdp` / `mesh.tensor` shard them; the names wrap the default initialisers, so the values,
the tree and the names of the parameters are those of plain Linen layers. (ArrangerConfig and the
reference names live in `config`, imported here too.)
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from arranger_jax import features as F
from arranger_jax.config import TIME_ENCODINGS, ArrangerConfig, reference_config, reference_name  # noqa: F401


def _named(init, *names):
    return nn.with_logical_partitioning(init, names)


def _dense(features, axes, name):
    """nn.Dense whose kernel has the logical names `axes` (in, out) and bias axes[1]."""
    return nn.Dense(
        features,
        name=name,
        kernel_init=_named(nn.linear.default_kernel_init, *axes),
        bias_init=_named(nn.initializers.zeros_init(), axes[1]),
    )


def _embed(num, name):
    return nn.Embed(
        num, F.EMBED_DIM, name=name, embedding_init=_named(nn.linear.default_embed_init, "vocab", "embed")
    )


def _layer_norm(epsilon, name):
    return nn.LayerNorm(
        epsilon=epsilon,
        name=name,
        scale_init=_named(nn.initializers.ones, "norm"),
        bias_init=_named(nn.initializers.zeros_init(), "norm"),
    )


_BEAT_TABLE = F.sinusoid_table(F.MAX_BEAT + 1, F.EMBED_DIM)
_FREQ_TABLE = F.frequency_table()


def fixed_table_size(config):
    """Entries of the non-trainable tables, which the reference's Keras count includes."""
    if not config.embedding:
        return 0
    size = _FREQ_TABLE.size if config.use_frequency else 0
    if config.time_encoding in ("beat_position", "time"):
        size += _BEAT_TABLE.size
    return size


def count_parameters(params, config=None):
    """Trainable parameters, plus the fixed tables when a config is given (the Keras count)."""
    n = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
    return n + (fixed_table_size(config) if config is not None else 0)


class NoteInputs(nn.Module):
    """Per-note input vectors [B, T, D] in the reference's concatenation order."""

    config: ArrangerConfig

    @nn.compact
    def __call__(self, inputs):
        c = self.config
        pitch = inputs["pitch"]
        time = inputs["time"]
        if not c.embedding:
            return jnp.stack([pitch, time], -1).astype(jnp.float32)
        pitch_embed = _embed(F.NUM_PITCHES, "pitch_embedding")
        parts = [pitch_embed(pitch)]
        if c.time_encoding == "beat_position":
            parts.append(_embed(F.BEAT_STEPS, "position_embedding")(inputs["position"]))
            parts.append(jnp.asarray(_BEAT_TABLE)[jnp.clip(inputs["beat"], 0, F.MAX_BEAT)])
        elif c.time_encoding == "time":
            parts.append(jnp.asarray(_BEAT_TABLE)[jnp.clip(time, 0, F.MAX_TIME)])
        elif c.time_encoding == "raw_time":
            parts.append(time[..., None].astype(jnp.float32))
        else:  # raw_beat_position
            parts.append(jnp.stack([inputs["position"], inputs["beat"]], -1).astype(jnp.float32))
        if c.use_duration:
            duration = jnp.clip(inputs["duration"], 0, F.MAX_DURATION)
            parts.append(_embed(F.MAX_DURATION + 1, "duration_embedding")(duration))
        if c.use_frequency:
            parts.append(jnp.asarray(_FREQ_TABLE)[pitch])
        if c.use_entry_hints:
            parts.append(inputs["entry_hint"].astype(jnp.float32))
        if c.use_pitch_hints:
            # one 16-d vector per part from the shared pitch table, repeated along the sequence
            hints = pitch_embed(inputs["pitch_hint"])  # [B, K, 16]
            hints = hints.reshape(hints.shape[0], 1, -1)
            parts.append(jnp.broadcast_to(hints, pitch.shape + hints.shape[-1:]))
        x = jnp.concatenate(parts, -1)
        return x


class LSTM(nn.Module):
    """One Keras-layout LSTM layer run with `lax.scan`; masked steps keep the state unchanged (so
    the backward direction starts at each sequence's last real note)."""

    units: int
    reverse: bool = False

    @nn.compact
    def __call__(self, x, mask, carry=None):
        u = self.units
        kernel = self.param(
            "kernel", _named(nn.initializers.glorot_uniform(), "embed", "mlp"), (x.shape[-1], 4 * u)
        )
        recurrent = self.param(
            "recurrent_kernel", _named(nn.initializers.orthogonal(), "embed", "mlp"), (u, 4 * u)
        )
        forget_one = lambda key, shape: jnp.zeros(shape).at[u : 2 * u].set(1.0)  # noqa: E731
        bias = self.param("bias", _named(forget_one, "mlp"), (4 * u,))
        projected = x @ kernel + bias  # the input part of every step, computed at once
        if carry is None:
            zeros = jnp.zeros(x.shape[:1] + (u,), x.dtype)
            carry = (zeros, zeros)

        def step(state, inp):
            z_x, m = inp
            h, c = state
            z = z_x + h @ recurrent
            i, f, g, o = jnp.split(z, 4, -1)
            c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
            m = m[:, None]
            h, c = jnp.where(m, h_new, h), jnp.where(m, c_new, c)
            return (h, c), jnp.where(m, h_new, 0.0)

        carry, out = jax.lax.scan(
            step, carry, (projected.swapaxes(0, 1), mask.swapaxes(0, 1)), reverse=self.reverse
        )
        return out.swapaxes(0, 1), carry


class LSTMArranger(nn.Module):
    """3 layers of LSTM(128) (online) or forward+backward LSTM(64) (offline), each followed by
    LayerNorm (eps 1e-3) and dropout 0.2; then a linear head with K+1 outputs."""

    config: ArrangerConfig

    @nn.compact
    def __call__(self, inputs, train=False, carry=None):
        """`carry` (online only): per-layer (h, c) to continue from; returns (logits, carry) then."""
        c = self.config
        x = NoteInputs(c, name="inputs")(inputs)
        mask = inputs["pitch"] > 0
        new_carry = []
        for layer in range(c.layers):
            if c.online:
                x, state = LSTM(c.units, name=f"lstm_{layer}")(
                    x, mask, None if carry is None else carry[layer]
                )
                new_carry.append(state)
            else:
                fwd, _ = LSTM(c.units // 2, name=f"forward_{layer}")(x, mask)
                bwd, _ = LSTM(c.units // 2, reverse=True, name=f"backward_{layer}")(x, mask)
                x = jnp.concatenate([fwd, bwd], -1)
            x = _layer_norm(1e-3, f"layer_norm_{layer}")(x)
            x = nn.Dropout(c.dropout, deterministic=not train)(x)
        logits = _dense(c.num_parts + 1, ("embed", "vocab"), "head")(x)
        return (logits, tuple(new_carry)) if carry is not None else logits


class SelfAttention(nn.Module):
    heads: int
    dim: int

    @nn.compact
    def __call__(self, x, bias, cache=None, slot=None):
        """x [B, T, dim]; bias added to the logits [., ., T, keys]. With `cache` (keys, values),
        each [B*heads, C, dim/heads], the new keys and values are written at position `slot`
        and the whole cache is attended; returns (out, cache) then."""
        b, t, _ = x.shape
        depth = self.dim // self.heads

        # Heads folded into the batch, [B*heads, T, depth], also the cache's layout: its update
        # and both products then use one array, which XLA updates in place (with any reshape
        # between them it copied the cache every step).
        def fold(y):
            return y.reshape(b, -1, self.heads, depth).swapaxes(1, 2).reshape(b * self.heads, -1, depth)

        q, k, v = (fold(_dense(self.dim, ("embed", "joined_kv"), n)(x)) for n in ("query", "key", "value"))
        if cache is not None:
            k, v = (
                jax.lax.dynamic_update_slice_in_dim(c, new, slot, axis=1) for c, new in zip(cache, (k, v))
            )
        logits = jnp.einsum("nqd,nkd->nqk", q, k).reshape(b, self.heads, t, -1) / np.sqrt(depth)
        probs = jax.nn.softmax(logits + bias, -1).reshape(b * self.heads, t, -1)
        out = (probs @ v).reshape(b, self.heads, t, depth).swapaxes(1, 2).reshape(b, t, self.dim)
        out = _dense(self.dim, ("joined_kv", "embed"), "out")(out)
        return out if cache is None else (out, (k, v))


class TransformerArranger(nn.Module):
    """Dense(128) + sinusoidal encoding of the note index, 3 post-LN blocks (8 heads, FFN 256,
    dropout 0.2, LN eps 1e-6), linear head. Keys at padding are masked (additive -1e9), and in
    the online Transformer-Dec so are later notes."""

    config: ArrangerConfig

    @nn.compact
    def __call__(self, inputs, train=False, stream=None):
        """`stream` (online only; see `streaming`): inputs hold one new note per row, and
        stream = {"layers": per-layer (keys, values) caches [B*heads, C, units/heads],
        "index": the note's index in the piece, "encoding": its sinusoid row [units]}. The note
        attends to itself and the C - 1 notes before it (all earlier notes while index < C);
        returns (logits, layers) then."""
        c = self.config
        x = NoteInputs(c, name="inputs")(inputs)
        t = x.shape[1]
        x = _dense(c.units, (None, "embed"), "input_projection")(x)  # inputs: concatenated features
        if stream is None:
            x = x + jnp.asarray(F.sinusoid_table(max(t, c.max_positions), c.units)[:t])
            keep = (inputs["pitch"] > 0)[:, None, None, :]  # [B, 1, 1, T] keys
            if c.online:
                keep = keep & jnp.tril(jnp.ones((t, t), bool))[None, None]
        else:  # a ring buffer: the note goes to slot index mod C, the filled slots are attended
            x = x + stream["encoding"]
            capacity = stream["layers"][0][0].shape[1]
            filled = jnp.minimum(stream["index"] + 1, capacity)
            keep = (jnp.arange(capacity) < filled)[None, None, None, :]
        x = nn.Dropout(c.dropout, deterministic=not train)(x)
        bias = jnp.where(keep, 0.0, -1e9)
        layers = []
        for layer in range(c.layers):
            attention = SelfAttention(c.heads, c.units, name=f"attention_{layer}")
            if stream is None:
                attn = attention(x, bias)
            else:
                attn, cache = attention(x, bias, stream["layers"][layer], stream["index"] % capacity)
                layers.append(cache)
            attn = nn.Dropout(c.dropout, deterministic=not train)(attn)
            x = _layer_norm(1e-6, f"attention_norm_{layer}")(x + attn)
            ffn = _dense(c.ffn_units, ("embed", "mlp"), f"ffn_in_{layer}")(x)
            ffn = _dense(c.units, ("mlp", "embed"), f"ffn_out_{layer}")(nn.relu(ffn))
            ffn = nn.Dropout(c.dropout, deterministic=not train)(ffn)
            x = _layer_norm(1e-6, f"ffn_norm_{layer}")(x + ffn)
        logits = _dense(c.num_parts + 1, ("embed", "vocab"), "head")(x)
        return logits if stream is None else (logits, tuple(layers))


def build_model(config):
    return (LSTMArranger if config.arch == "lstm" else TransformerArranger)(config)


def predict_parts(logits):
    """Part index 0..K-1 per note: argmax over classes 1..K (class 0 is padding)."""
    return jnp.argmax(logits[..., 1:], -1)
