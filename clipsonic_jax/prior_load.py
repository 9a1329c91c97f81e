"""Read a trained (or imported) diffusion-prior run folder and map CLIP text to image embeddings.

    prior = load("runs/clipsonic/prior-tiny")          # a Prior
    clip = prior.clip()                                # the CLIP folder it was trained with
    img = prior.text_to_image(clip, ["a red shape"], seed=0, guidance=1.0)   # [B, D] unit

No training module is imported. A folder that is not a loadable prior run is a one-line RunError.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from clipsonic_jax.prior_config import PriorConfig
from music_codecs.errors import UserError
from train_kit.config import from_dict
from train_kit.run import RunError, check_params, load_run

SYSTEM = "clipsonic-prior"


def abstract_params(cfg: PriorConfig):
    import jax

    from clipsonic_jax.prior_model import PriorNetwork, init_params
    from train_kit.sharding import unbox

    return unbox(jax.eval_shape(lambda k: init_params(PriorNetwork(cfg.net), k), jax.random.key(0)))


@dataclasses.dataclass
class Prior:
    cfg: PriorConfig
    params: dict
    clip_dir: str
    path: str = ""
    step: int | None = None

    def clip(self, clip_dir=None):
        from model_kit.clip_load import load_clip

        clip = load_clip(clip_dir or self.clip_dir)
        if clip.cfg.projection_dim != self.cfg.net.dim:
            raise UserError(
                f"CLIP at {clip.directory} gives {clip.cfg.projection_dim}-d embeddings; "
                f"the prior at {self.path} maps {self.cfg.net.dim}-d ones"
            )
        return clip

    @functools.lru_cache(maxsize=8)
    def sampler(self, steps, candidates):
        from clipsonic_jax.prior_diffusion import make_sampler, net_predict
        from clipsonic_jax.prior_model import PriorNetwork

        return make_sampler(
            net_predict(PriorNetwork(self.cfg.net)), self.cfg.diffusion, self.cfg.net.dim, steps, candidates
        )

    def sample(self, text_embed, text_enc, seed=0, guidance=None, steps=None, candidates=None):
        """Unit image embeddings [B, D] for unit text embeddings [B, D] and encodings [B, L, D]."""
        import jax
        import jax.numpy as jnp

        dc = self.cfg.diffusion
        fn = self.sampler(int(steps or dc.sample_timesteps), int(candidates or dc.candidates))
        out = fn(
            self.params,
            jnp.asarray(text_embed, jnp.float32),
            None if text_enc is None else jnp.asarray(text_enc, jnp.float32),
            jax.random.key(seed),
            float(dc.guidance if guidance is None else guidance),
        )
        return np.asarray(out)

    def text_to_image(self, clip, texts, seed=0, guidance=None, steps=None, candidates=None, batch=64):
        """CLIP text -> prior -> unit image-like embeddings [len(texts), D]."""
        emb, enc = clip.embed_texts_with_encodings(texts)
        out = [
            self.sample(emb[i : i + batch], enc[i : i + batch], seed + i, guidance, steps, candidates)
            for i in range(0, len(emb), batch)
        ]
        return np.concatenate(out) if out else np.zeros((0, self.cfg.net.dim), np.float32)

    __hash__ = object.__hash__


def load(path) -> Prior:
    run = load_run(path, system=SYSTEM)
    if "clip_dir" not in run.info:
        raise RunError(f"{path}: run.json lacks clip_dir; export the prior again")
    cfg = from_dict(PriorConfig, run.config)
    params = check_params(run.params, abstract_params(cfg), str(path))
    return Prior(cfg, params, run.info["clip_dir"], str(path), run.step)
