"""clipsonic_jax's Python API on the shipped model (with its CLIP and prior): the docstring
examples (image, text through CLIP, text through the prior, WAV length, a bad query)."""

from doc_examples import run_examples


def test_docstring_examples():
    import clipsonic_jax
    import clipsonic_jax.api

    assert "synthetic-tiny" in clipsonic_jax.pretrained()
    run_examples(clipsonic_jax.api, minimum=10)
