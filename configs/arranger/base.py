"""Shared builder of the Arranger experiment configs (spec §4-5 hyperparameters)."""
import dataclasses

from arranger_jax.models import ArrangerConfig
from arranger_jax.train import ArrangerDataConfig, ArrangerExperiment


def experiment(dataset="bach", arch="lstm", online=True, entry_hints=False, duration=None,
               out_dir=None, **model):
    """The paper's setting: pitch/beat/position embeddings + frequency; the offline models also
    take durations when they use entry hints (the released *_onsethint_duration checkpoints)."""
    if duration is None:
        duration = (not online) and entry_hints
    exp = ArrangerExperiment(
        model=ArrangerConfig(arch=arch, online=online, use_entry_hints=entry_hints,
                             use_duration=duration, **model),
        data=ArrangerDataConfig(dataset=dataset),
    )
    name = {("lstm", True): "lstm", ("lstm", False): "bilstm", ("transformer", True): "transformer_dec",
            ("transformer", False): "transformer_enc"}[(arch, online)] + ("_eh" if entry_hints else "")
    return dataclasses.replace(exp, train=dataclasses.replace(
        exp.train, out_dir=out_dir or f"runs/arranger/{dataset}_{name}"))
