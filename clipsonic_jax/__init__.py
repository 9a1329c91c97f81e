"""CLIPSonic: text-to-audio from unlabeled videos via CLIP-conditioned mel diffusion (Dong et al., WASPAA 2023), in JAX/Flax."""
