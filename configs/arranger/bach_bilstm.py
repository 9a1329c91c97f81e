"""Arranger, Bach chorales, bilstm (reference §4-5). Entry hints: `model.use_entry_hints=True`
(for the paper's offline rows with hints also `model.use_duration=True`)."""

from arranger_jax.config import experiment


def get_config():
    return experiment("bach", "lstm", online=False)
