"""Arranger experiment configs: `arranger-jax train --config configs/arranger/<name>.py`."""
