"""Drawn indices for the `getitem` op of graphs(): basic slices (negative steps too), integers, new axes and
an Ellipsis, with at most one advanced index (an integer array with repeats, or a boolean mask of one axis),
or one boolean mask of the whole shape. Every index selects at least one entry."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .graphs import Index


def getitem_params(draw, shape: tuple) -> dict:
    if not shape:
        return {"index": Index(draw(st.sampled_from([(None,), (Ellipsis,), ()]), label="0-d index"))}
    if draw(st.integers(0, 7), label="whole mask") == 0:
        return {"index": _mask(draw, shape)}
    n = draw(st.integers(1, len(shape)), label="indexed axes")
    from_end = n < len(shape) and draw(st.booleans(), label="ellipsis")
    axes = range(len(shape) - n, len(shape)) if from_end else range(n)
    items: list = [Ellipsis] if from_end else []
    advanced = False
    for d in axes:
        if draw(st.integers(0, 5), label="new axis") == 0:
            items.append(None)
        kinds = ["slice", "int"] + ([] if advanced else ["array", "mask"])
        kind = draw(st.sampled_from(kinds), label="index kind")
        advanced = advanced or kind in ("array", "mask")
        items.append(_item(draw, kind, shape[d]))
    return {"index": Index(items)}


def _item(draw, kind: str, size: int):
    if kind == "int":
        return draw(st.integers(-size, size - 1), label="int index")
    if kind == "array":
        return np.array(draw(st.lists(st.integers(-size, size - 1), min_size=1, max_size=4), label="array index"),
                        dtype=np.int64)
    if kind == "mask":
        return _mask(draw, (size,))
    step = draw(st.sampled_from([1, 2, -1, -2]), label="step")
    bounds = st.none() | st.integers(-size, size)
    s = slice(draw(bounds, label="start"), draw(bounds, label="stop"), None if step == 1 else step)
    return s if len(range(*s.indices(size))) else slice(None, None, s.step)


def _mask(draw, shape: tuple) -> np.ndarray:
    seed = draw(st.integers(0, 2**16), label="mask seed")
    mask = np.random.default_rng(seed).random(shape) < 0.5
    mask.reshape(-1)[draw(st.integers(0, mask.size - 1), label="kept")] = True
    return mask
