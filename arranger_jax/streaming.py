"""Note-by-note labelling with an online model, for live use: constant cost per note.

    labeller = StreamingLabeller(config, params)
    state = labeller.start(batch=1)
    logits, state = labeller.step(state, note)   # note: one note per row, per-note inputs [B, 1]

The state is an explicit pytree and a step is one jitted call (params, state, note) -> (logits,
state), so a stream of notes gives the logits the whole-sequence model gives:
- online LSTM: the state is every layer's (h, c);
- Transformer-Dec: the state is every layer's key/value cache, a ring buffer of `capacity` notes
  (default the model's 2000 positions), plus the note count. Up to `capacity` notes the result
  equals the whole-sequence model; after that each note attends to the last `capacity` notes
  only, which keeps the cost per note constant however long the stream runs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from arranger_jax import features as F
from arranger_jax.models import ArrangerConfig, LSTMArranger, TransformerArranger


def note_inputs(inputs, i):
    """Note i of per-note inputs [B, T, ...] as a one-note step [B, 1, ...]; the per-piece pitch
    hints [B, K] stay whole."""
    return {k: (v if k == "pitch_hint" else v[:, i : i + 1]) for k, v in inputs.items()}


class StreamingLabeller:
    def __init__(self, config: ArrangerConfig, params, capacity: int | None = None):
        if not config.online:
            raise ValueError("streaming needs an online model (LSTM or Transformer-Dec, online=True)")
        self.config, self.params = config, params
        if config.arch == "lstm":
            model = LSTMArranger(config)
            self._step = jax.jit(lambda p, state, x: model.apply({"params": p}, x, carry=state))
        else:
            self.capacity = capacity or config.max_positions
            model = TransformerArranger(config)
            # the caches are donated: each step updates them in place
            self._step = jax.jit(
                lambda p, layers, index, encoding, x: model.apply(
                    {"params": p}, x, stream={"layers": layers, "index": index, "encoding": encoding}
                ),
                donate_argnums=1,
            )

    def start(self, batch=1):
        c = self.config
        if c.arch == "lstm":
            zeros = jnp.zeros((batch, c.units))
            return tuple((zeros, zeros) for _ in range(c.layers))
        shape = (batch * c.heads, self.capacity, c.units // c.heads)
        return {"index": 0, "layers": tuple((jnp.zeros(shape), jnp.zeros(shape)) for _ in range(c.layers))}

    def step(self, state, inputs):
        """inputs: per-note arrays of shape [B, 1] (entry hints [B, 1, K], pitch hints [B, K])."""
        if self.config.arch == "lstm":
            logits, state = self._step(self.params, state, inputs)
            return logits[:, 0], state
        # The note count stays a host int: its position row is computed in float64 like the
        # whole-sequence table, and a traced scalar in the jitted step (no recompiling).
        index = state["index"]
        encoding = F.sinusoid_table(1, self.config.units, index)[0]
        logits, layers = self._step(self.params, state["layers"], index, encoding, inputs)
        return logits[:, 0], {"index": index + 1, "layers": layers}
