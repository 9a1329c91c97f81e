"""MuseGAN experiment configs: `musegan-jax train --config configs/musegan/<name>.py`."""
