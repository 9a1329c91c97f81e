"""TrainState: everything a training run carries from step to step, as one pytree.

    TrainState(step, params, opt_state, rng)

`step` counts train-step calls (int32 scalar); `rng` is raw key data (uint32[2]) so orbax saves it
as a plain array; the train step draws step s's randomness as fold_in(rng, s), so a resumed run
draws exactly what an uninterrupted one would. The Linen module is not part of the state: step
functions close over it (it is static).
"""

from __future__ import annotations

from typing import Any

import flax.struct


@flax.struct.dataclass
class TrainState:
    step: Any
    params: Any
    opt_state: Any
    rng: Any
