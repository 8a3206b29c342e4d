"""Plain-NumPy definitions of the layers, written independently of minigen (loops over taps and steps)."""
from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def linear(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


def conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Cross-correlation, one kernel tap at a time."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
                y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, w[g * og:(g + 1) * og, :, i, j])
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    y = conv2d(x[:, :, None], w[:, :, None], b, (1, stride), (0, padding), (1, dilation), groups)
    return y[:, :, 0]


def conv_transpose2d(x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=1,
                     dilation=(1, 1)):
    """Every input pixel scatters w[c, o] scaled by x[n, c, i, j] onto the output."""
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + output_padding[0]
    full_w = (wd - 1) * sw + dw * (kw - 1) + 1 + output_padding[1]
    y = np.zeros((n, og * groups, full_h, full_w))
    cg = c // groups
    for g in range(groups):
        for i in range(h):
            for j in range(wd):
                for ki in range(kh):
                    for kj in range(kw):
                        y[:, g * og:(g + 1) * og, i * sh + ki * dh, j * sw + kj * dw] += \
                            x[:, g * cg:(g + 1) * cg, i, j] @ w[g * cg:(g + 1) * cg, :, ki, kj]
    y = y[:, :, ph:full_h - ph, pw:full_w - pw]
    if b is not None:
        y += b[None, :, None, None]
    return y


def raster_mask(kh, kw, mask_type):
    """1 where a tap lies strictly before the centre in raster order (and at it for mask "B")."""
    ci, cj = kh // 2, kw // 2
    return np.array([[float((i, j) < (ci, cj) or ((i, j) == (ci, cj) and mask_type == "B"))
                      for j in range(kw)] for i in range(kh)])


def batch_norm_train(x, weight, bias, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return y * weight.reshape(shape) + bias.reshape(shape), mean, var


def layer_norm(x, shape, weight, bias, eps):
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    return y * weight + bias if weight is not None else y


def lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's LSTM step, gates in the order i, f, g, o."""
    z = x @ w_ih.T + h @ w_hh.T + (0 if b_ih is None else b_ih + b_hh)
    n = h.shape[-1]
    i, f, g, o = sigmoid(z[..., :n]), sigmoid(z[..., n:2 * n]), np.tanh(z[..., 2 * n:3 * n]), sigmoid(z[..., 3 * n:])
    c = f * c + i * g
    return o * np.tanh(c), c


def lstm(x, params, num_layers, hidden, bidirectional=False, h0=None, c0=None):
    """x (T, N, I); params: name -> array with PyTorch's names. Returns output, h_n, c_n."""
    dirs = 2 if bidirectional else 1
    t_len, n = x.shape[:2]
    if h0 is None:
        h0 = c0 = np.zeros((num_layers * dirs, n, hidden))
    hs, cs = [], []
    for layer in range(num_layers):
        outs = []
        for d, suffix in enumerate(["", "_reverse"][:dirs]):
            k = layer * dirs + d
            h, c = h0[k], c0[k]
            p = [params.get(f"{name}_l{layer}{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            out = np.zeros((t_len, n, hidden))
            for t in (range(t_len - 1, -1, -1) if d else range(t_len)):
                h, c = lstm_cell(x[t], h, c, *p)
                out[t] = h
            outs.append(out)
            hs.append(h)
            cs.append(c)
        x = np.concatenate(outs, axis=-1)
    return x, np.stack(hs), np.stack(cs)


def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's GRU step, gates in the order r, z, n; b_hn stays inside r * (...)."""
    n = h.shape[-1]
    gi = x @ w_ih.T + (0 if b_ih is None else b_ih)
    gh = h @ w_hh.T + (0 if b_hh is None else b_hh)
    r = sigmoid(gi[..., :n] + gh[..., :n])
    z = sigmoid(gi[..., n:2 * n] + gh[..., n:2 * n])
    cand = np.tanh(gi[..., 2 * n:] + r * gh[..., 2 * n:])
    return (1 - z) * cand + z * h


def gru(x, params, num_layers, hidden, bidirectional=False, h0=None):
    """x (T, N, I); params: name -> array with PyTorch's names. Returns output, h_n."""
    dirs = 2 if bidirectional else 1
    t_len, n = x.shape[:2]
    if h0 is None:
        h0 = np.zeros((num_layers * dirs, n, hidden))
    hs = []
    for layer in range(num_layers):
        outs = []
        for d, suffix in enumerate(["", "_reverse"][:dirs]):
            h = h0[layer * dirs + d]
            p = [params.get(f"{name}_l{layer}{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            out = np.zeros((t_len, n, hidden))
            for t in (range(t_len - 1, -1, -1) if d else range(t_len)):
                h = gru_cell(x[t], h, *p)
                out[t] = h
            outs.append(out)
            hs.append(h)
        x = np.concatenate(outs, axis=-1)
    return x, np.stack(hs)
