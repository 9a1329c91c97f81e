"""Networks more than one system uses, in Flax Linen, with importers for their released weights.

    model_kit.clip_model / clip_load   CLIP (Hugging Face safetensors)
    model_kit.vocoder / vocoder_load   HiFi-GAN V1/V2 and BigVGAN generators (torch checkpoints)
    model_kit.vggish / vggish_load     VGGish audio embeddings (torchvggish state dict), for FAD
    model_kit.frechet                  the Fréchet distance between Gaussians of embeddings
    model_kit.embedders                the embedding models FAD can use, by name
    model_kit.clap_model / clap_load   LAION-CLAP (HTSAT + RoBERTa, laion-clap checkpoints), CLAP score

No system package is imported here; systems import model_kit.
"""
