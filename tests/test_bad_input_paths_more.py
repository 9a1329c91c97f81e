"""Unusable paths through every CLIPSonic and MuseGAN command (the cases and the folder are in
tests/test_bad_input_paths.py): one line, exit 2, nothing written, every file byte-identical."""

from bad_input import Case
from test_bad_input_paths import CLIPSONIC, MUSEGAN, check_refused, root  # noqa: F401  (fixture)


def test_unusable_paths_fail_in_one_line_and_touch_nothing_clipsonic_musegan(root):  # noqa: F811
    check_refused(
        root,
        [Case("clipsonic-jax", a, expect=e) for a, e in CLIPSONIC]
        + [Case("musegan-jax", a, expect=e) for a, e in MUSEGAN],
    )
