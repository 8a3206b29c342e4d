"""The default op table of `graphs()`: `DEFAULT_OPS`, one `GraphOp` per op, by family.

Each entry says how the op prints, which first operands it applies to (`params` returns None otherwise),
what further operands it takes (an earlier value of a drawn shape or a fresh leaf) and where it is smooth
(`domain`: away from kinks and ties by graphs.KINK, positive inputs of log above 0.1, ...). `FAMILIES`
names the entries of each family the issue lists, for tests and for picking a sub-table.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import minigen as mg
import minigen.functional as F

from .graph_index import getitem_params
from .graphs import KINK, GraphOp, in_domain


# ------------------------------------------------------------------------------------------- domains

def _positive(x, **_) -> bool:
    return in_domain(x, "positive")


def _nonzero(x, *rest, **_) -> bool:
    return in_domain(x, "nonzero")


def _off_kink(x, **_) -> bool:
    return bool((np.abs(x) > KINK).all())


def _apart(a, b, **_) -> bool:
    return bool((np.abs(a - b) > KINK).all())


def _denominator(a, b, **_) -> bool:
    return in_domain(b, "nonzero")


def _gap(x, axes) -> bool:
    """The two largest and the two smallest entries of every reduced slice differ by more than KINK."""
    x = np.asarray(x)
    keep = [d for d in range(x.ndim) if d not in axes]
    rows = np.sort(np.transpose(x, keep + list(axes)).reshape(int(np.prod([x.shape[d] for d in keep])), -1))
    if rows.shape[1] < 2:
        return True
    return bool((rows[:, -1] - rows[:, -2] > KINK).all() and (rows[:, 1] - rows[:, 0] > KINK).all())


def _reduced_apart(x, axis=None, keepdims=False) -> bool:
    return _gap(x, _axes(axis, x.ndim))


def _spread(x, axes, low=0.05) -> bool:
    """Every normalized slice varies (its standard deviation is at least `low`)."""
    return x.size == 0 or bool((np.std(x, axis=axes) >= low).all())


def _axes(axis, ndim) -> tuple:
    if axis is None or ndim == 0:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(a % ndim for a in axes))


# ------------------------------------------------------------------------------------ param drawers

def _axis_params(draw, shape, keepdims: bool = True):
    """axis None, an int (negative too; 0 or -1 on a 0-d value) or a tuple, and keepdims."""
    n = len(shape)
    choices = [st.none(), st.integers(-max(n, 1), max(n, 1) - 1)]
    if n:
        choices.append(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True).map(tuple))
    params = {"axis": draw(st.one_of(choices), label="axis")}
    if keepdims:
        params["keepdims"] = draw(st.booleans(), label="keepdims")
    return params


def _one_axis(draw, shape):
    n = max(len(shape), 1)
    return {"axis": draw(st.integers(-n, n - 1), label="axis")}


def _same(draw, shape, params, domain="real"):
    return [(shape, domain)]


def _broadcast_partner(draw, shape, params, domain="real"):
    """A shape that broadcasts with `shape`: axes set to 1 or dropped, 1-axes stretched, or an axis added."""
    kind = draw(st.sampled_from(["same", "shrink", "grow"]), label="broadcast")
    if kind == "shrink":
        drop = draw(st.integers(0, len(shape)), label="drop")
        other = tuple(1 if draw(st.booleans()) else s for s in shape[drop:])
    elif kind == "grow":
        other = tuple(draw(st.integers(1, 3)) if s == 1 else s for s in shape)
        if draw(st.booleans()):
            other = (draw(st.integers(1, 2)),) + other
    else:
        other = shape
    return [(other, domain)]


def _nonzero_partner(draw, shape, params):
    return _broadcast_partner(draw, shape, params, "nonzero")


def _matmul_partner(draw, shape, params):
    if not shape:
        return None
    k = shape[-1]
    return [((k,) if draw(st.booleans()) else (k, draw(st.integers(1, 3))), "real")]


def _needs_axes(params_fn=None, min_dims=1):
    def params(draw, shape):
        if len(shape) < min_dims:
            return None
        return {} if params_fn is None else params_fn(draw, shape)
    return params


def _reshape_params(draw, shape):
    n = int(np.prod(shape))
    factors = [f for f in _prime_factors(n)]
    factors = draw(st.permutations(factors), label="factors") if factors else []
    dims: list = []
    for f in factors:
        if dims and draw(st.booleans()):
            dims[-1] *= f
        else:
            dims.append(f)
    for _ in range(draw(st.integers(0, 1), label="ones")):
        dims.insert(draw(st.integers(0, len(dims))), 1)
    if dims and draw(st.booleans(), label="-1"):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return {"shape": tuple(dims)}


def _prime_factors(n: int) -> list:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def _permute_params(draw, shape):
    return {"axes": tuple(draw(st.permutations(range(len(shape))), label="axes"))}


def _expand_params(draw, shape):
    new = tuple(draw(st.integers(1, 3)) if s == 1 else (-1 if draw(st.booleans()) else s) for s in shape)
    lead = tuple(draw(st.integers(1, 2)) for _ in range(draw(st.integers(0, 1), label="lead")))
    return {"shape": lead + new}


def _squeeze_params(draw, shape):
    if not shape or draw(st.booleans()):
        return {"axis": None}
    return {"axis": draw(st.integers(-len(shape), len(shape) - 1), label="axis")}


def _unsqueeze_params(draw, shape):
    return {"axis": draw(st.integers(-len(shape) - 1, len(shape)), label="axis")}


def _flatten_params(draw, shape):
    if not shape:
        return {"start_axis": 0, "end_axis": -1}
    start = draw(st.integers(0, len(shape) - 1), label="start")
    return {"start_axis": start, "end_axis": draw(st.integers(start, len(shape) - 1), label="end")}


def _cat_params(draw, shape):
    return None if not shape else {"axis": draw(st.integers(-len(shape), len(shape) - 1), label="axis")}


def _cat_partner(draw, shape, params):
    a = params["axis"] % len(shape)
    return [(shape[:a] + (draw(st.integers(1, 3)),) + shape[a + 1:], "real")]


def _stack_params(draw, shape):
    return {"axis": draw(st.integers(-len(shape) - 1, len(shape)), label="axis")}


def _where_partners(draw, shape, params):
    return _same(draw, shape, params) + _broadcast_partner(draw, shape, params)


def _where_domain(c, a, b) -> bool:
    return _off_kink(c)


def _loss_params(draw, shape):
    return {"reduction": draw(st.sampled_from(["mean", "sum", "none"]), label="reduction")}


def _binary_target(draw, shape):
    seed = draw(st.integers(0, 2**16), label="target seed")
    target = np.asarray(np.random.default_rng(seed).random(shape) < 0.5, dtype=np.float64)
    return {"target": target, **_loss_params(draw, shape)}


def _class_target(draw, shape):
    if len(shape) < 2:
        return None
    seed = draw(st.integers(0, 2**16), label="target seed")
    target = np.random.default_rng(seed).integers(0, shape[1], size=shape[:1] + shape[2:])
    return {"target": target, **_loss_params(draw, shape)}


def _bce_domain(p, target, reduction) -> bool:
    return bool(((p > 0.02) & (p < 0.98)).all())


def _conv_params(draw, shape):
    if len(shape) != 4:
        return None
    padding = draw(st.integers(0, 1), label="padding")
    if min(shape[2:]) + 2 * padding < 1:
        return None
    return {"stride": draw(st.integers(1, 2), label="stride"), "padding": padding}


def _conv_weight(draw, shape, params, bias=False):
    room = [s + 2 * params["padding"] for s in shape[2:]]
    kernel = tuple(draw(st.integers(1, min(2, r))) for r in room)
    out = draw(st.integers(1, 2), label="out channels")
    return [((out, shape[1]) + kernel, "real")] + ([((out,), "real")] if bias else [])


def _conv_bias(draw, shape, params):
    return _conv_weight(draw, shape, params, bias=True)


def _conv_transpose_params(draw, shape):
    return None if len(shape) != 4 else {"stride": draw(st.integers(1, 2), label="stride")}


def _conv_transpose_weight(draw, shape, params):
    return [((shape[1], draw(st.integers(1, 2))) + tuple(draw(st.integers(1, 2)) for _ in range(2)), "real")]


def _pool_params(draw, shape):
    if len(shape) != 4:
        return None
    k = draw(st.integers(1, min(2, *shape[2:])), label="kernel")
    return {"kernel_size": k}


def _pool_domain(x, kernel_size) -> bool:
    """Distinct values within every channel plane (so within every window)."""
    return _gap(x, (2, 3)) and all(_distinct(x[n, c]) for n in range(x.shape[0]) for c in range(x.shape[1]))


def _distinct(a) -> bool:
    return in_domain(np.asarray(a), "distinct")


def _layer_norm_params(draw, shape):
    return None if not shape or shape[-1] < 2 else {"normalized_shape": shape[-1:]}


def _batch_norm_params(draw, shape):
    if len(shape) < 2 or int(np.prod(shape)) // shape[1] < 2:
        return None
    return {"running_mean": None, "running_var": None, "training": True}


def _batch_norm_domain(x, **_) -> bool:
    return _spread(x, (0,) + tuple(range(2, x.ndim)))


def _upsample_params(draw, shape):
    return None if len(shape) < 3 else {"scale_factor": 2}


def _clip_domain(x, lo, hi) -> bool:
    return bool((np.abs(x - lo) > KINK).all() and (np.abs(x - hi) > KINK).all())


# ------------------------------------------------------------------------------------------- the table

ELEMENTWISE = (
    GraphOp("neg", lambda x: -x, "-{0}"),
    GraphOp("exp", lambda x: x.exp(), "{0}.exp()"),
    GraphOp("log", lambda x: x.log(), "{0}.log()", domain=_positive),
    GraphOp("sqrt", lambda x: x.sqrt(), "{0}.sqrt()", domain=_positive),
    GraphOp("abs", lambda x: x.abs(), "{0}.abs()", domain=_off_kink),
    GraphOp("tanh", lambda x: x.tanh(), "{0}.tanh()"),
    GraphOp("sigmoid", lambda x: x.sigmoid(), "{0}.sigmoid()"),
    GraphOp("relu", lambda x: x.relu(), "{0}.relu()", domain=_off_kink),
    GraphOp("softplus", lambda x: x.softplus(), "{0}.softplus()"),
    GraphOp("gelu", F.gelu, "F.gelu({0})"),
    GraphOp("square", lambda x: x ** 2, "{0} ** 2"),
    GraphOp("reciprocal", lambda x: 1 / x, "1 / {0}", domain=_nonzero),
    GraphOp("clip", lambda x, lo, hi: x.clip(lo, hi), "{0}.clip({lo}, {hi})",
            params=lambda draw, shape: {"lo": -0.5, "hi": 0.5}, domain=_clip_domain),
    GraphOp("add", lambda a, b: a + b, "{0} + {1}", operands=_broadcast_partner),
    GraphOp("sub", lambda a, b: a - b, "{0} - {1}", operands=_broadcast_partner),
    GraphOp("mul", lambda a, b: a * b, "{0} * {1}", operands=_broadcast_partner),
    GraphOp("div", lambda a, b: a / b, "{0} / {1}", operands=_nonzero_partner, domain=_denominator),
    GraphOp("pow", lambda a, b: a ** b, "{0} ** {1}", operands=_broadcast_partner,
            domain=lambda a, b: _positive(a)),
    GraphOp("maximum", mg.maximum, "mg.maximum({0}, {1})", operands=_broadcast_partner, domain=_apart),
    GraphOp("minimum", mg.minimum, "mg.minimum({0}, {1})", operands=_broadcast_partner, domain=_apart),
    GraphOp("where", lambda c, a, b: mg.where(c > 0, a, b), "mg.where({0} > 0, {1}, {2})",
            operands=_where_partners, domain=_where_domain),
)

REDUCTIONS = (
    GraphOp("sum", lambda x, **p: x.sum(**p), "{0}.sum(axis={axis}, keepdims={keepdims})", params=_axis_params),
    GraphOp("mean", lambda x, **p: x.mean(**p), "{0}.mean(axis={axis}, keepdims={keepdims})",
            params=_axis_params),
    GraphOp("var", lambda x, **p: x.var(**p), "{0}.var(axis={axis}, keepdims={keepdims})", params=_axis_params),
    GraphOp("max", lambda x, **p: x.max(**p), "{0}.max(axis={axis}, keepdims={keepdims})", params=_axis_params,
            domain=_reduced_apart),
    GraphOp("min", lambda x, **p: x.min(**p), "{0}.min(axis={axis}, keepdims={keepdims})", params=_axis_params,
            domain=_reduced_apart),
    GraphOp("logsumexp", lambda x, **p: x.logsumexp(**p), "{0}.logsumexp(axis={axis}, keepdims={keepdims})",
            params=_axis_params),
    GraphOp("softmax", F.softmax, "F.softmax({0}, axis={axis})", params=_one_axis),
    GraphOp("log_softmax", F.log_softmax, "F.log_softmax({0}, axis={axis})", params=_one_axis),
    GraphOp("cumsum", lambda x, axis, reverse: F.cumsum(x, axis, reverse=reverse),
            "F.cumsum({0}, {axis}, reverse={reverse})",
            params=lambda draw, shape: {**_one_axis(draw, shape), "reverse": draw(st.booleans(), label="reverse")}),
)

SHAPES = (
    GraphOp("reshape", lambda x, shape: x.reshape(shape), "{0}.reshape({shape})", params=_reshape_params),
    GraphOp("permute", lambda x, axes: x.permute(axes), "{0}.permute({axes})", params=_permute_params),
    GraphOp("T", lambda x: x.T, "{0}.T"),
    GraphOp("expand", lambda x, shape: x.expand(shape), "{0}.expand({shape})", params=_expand_params),
    GraphOp("squeeze", lambda x, axis: x.squeeze(axis), "{0}.squeeze({axis})", params=_squeeze_params),
    GraphOp("unsqueeze", lambda x, axis: x.unsqueeze(axis), "{0}.unsqueeze({axis})", params=_unsqueeze_params),
    GraphOp("flatten", lambda x, start_axis, end_axis: x.flatten(start_axis, end_axis),
            "{0}.flatten({start_axis}, {end_axis})", params=_flatten_params),
    GraphOp("getitem", lambda x, index: x[index], "{0}[{index}]", params=getitem_params),
    GraphOp("cat", lambda a, b, axis: mg.cat([a, b], axis=axis), "mg.cat([{0}, {1}], axis={axis})",
            params=_cat_params, operands=_cat_partner),
    GraphOp("stack", lambda a, b, axis: mg.stack([a, b], axis=axis), "mg.stack([{0}, {1}], axis={axis})",
            params=_stack_params, operands=_same),
)

LINALG = (
    GraphOp("matmul", lambda a, b: a @ b, "{0} @ {1}", params=_needs_axes(), operands=_matmul_partner),
)

LOSSES = (
    GraphOp("mse_loss", F.mse_loss, "F.mse_loss({0}, {1}, reduction={reduction})", params=_loss_params,
            operands=_same),
    GraphOp("l1_loss", F.l1_loss, "F.l1_loss({0}, {1}, reduction={reduction})", params=_loss_params,
            operands=_same, domain=lambda a, b, **_: _apart(a, b)),
    GraphOp("binary_cross_entropy", F.binary_cross_entropy,
            "F.binary_cross_entropy({0}, {target}, reduction={reduction})", params=_binary_target,
            domain=_bce_domain),
    GraphOp("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
            "F.binary_cross_entropy_with_logits({0}, {target}, reduction={reduction})", params=_binary_target),
    GraphOp("cross_entropy", F.cross_entropy, "F.cross_entropy({0}, {target}, reduction={reduction})",
            params=_class_target),
    GraphOp("nll_loss", F.nll_loss, "F.nll_loss({0}, {target}, reduction={reduction})", params=_class_target),
)

CONVOLUTION = (
    GraphOp("conv2d", F.conv2d, "F.conv2d({0}, {1}, stride={stride}, padding={padding})", params=_conv_params,
            operands=_conv_weight),
    GraphOp("conv2d_bias", F.conv2d, "F.conv2d({0}, {1}, {2}, stride={stride}, padding={padding})",
            params=_conv_params, operands=_conv_bias),
    GraphOp("conv_transpose2d", F.conv_transpose2d, "F.conv_transpose2d({0}, {1}, stride={stride})",
            params=_conv_transpose_params, operands=_conv_transpose_weight),
    GraphOp("max_pool2d", F.max_pool2d, "F.max_pool2d({0}, {kernel_size})", params=_pool_params,
            domain=_pool_domain),
    GraphOp("avg_pool2d", F.avg_pool2d, "F.avg_pool2d({0}, {kernel_size})", params=_pool_params),
    GraphOp("upsample_nearest", F.upsample_nearest, "F.upsample_nearest({0}, {scale_factor})",
            params=_upsample_params),
    GraphOp("layer_norm", F.layer_norm, "F.layer_norm({0}, {normalized_shape})", params=_layer_norm_params,
            domain=lambda x, normalized_shape: _spread(x, (-1,))),
    GraphOp("batch_norm", F.batch_norm, "F.batch_norm({0}, None, None, training=True)",
            params=_batch_norm_params, domain=_batch_norm_domain),
)

FAMILIES = {"elementwise": ELEMENTWISE, "reductions": REDUCTIONS, "shapes": SHAPES, "linalg": LINALG,
            "losses": LOSSES, "convolution": CONVOLUTION}
DEFAULT_OPS = tuple(op for family in FAMILIES.values() for op in family)
