"""Note-by-note labelling with an online LSTM, for live use: constant cost per note.

    labeller = StreamingLabeller(config, params)
    state = labeller.start(batch=1)
    logits, state = labeller.step(state, notes)   # notes: one note per row, per-note inputs [B, 1]

The state is the explicit pytree of every layer's (h, c); a step is one jitted call
(params, state, inputs) -> (logits, state), so a stream of notes gives exactly the logits the
whole-sequence model gives (the Transformer-Dec would need a key/value cache instead).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from arranger_jax.models import ArrangerConfig, LSTMArranger


class StreamingLabeller:
    def __init__(self, config: ArrangerConfig, params):
        if config.arch != "lstm" or not config.online:
            raise ValueError("streaming needs an online LSTM (arch='lstm', online=True)")
        self.config, self.params = config, params
        model = LSTMArranger(config)
        self._step = jax.jit(lambda p, state, x: model.apply({"params": p}, x, carry=state))

    def start(self, batch=1):
        zeros = jnp.zeros((batch, self.config.units))
        return tuple((zeros, zeros) for _ in range(self.config.layers))

    def step(self, state, inputs):
        """inputs: per-note arrays of shape [B, 1] (entry hints [B, 1, K], pitch hints [B, K])."""
        logits, state = self._step(self.params, state, inputs)
        return logits[:, 0], state
