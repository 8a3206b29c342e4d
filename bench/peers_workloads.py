"""The five workloads of bench/peers.py, written once against bench/peers_engines.py's interface.

Each workload has `arrays(rng, digits)` (the initial parameters and inputs, made once in NumPy by the main
process and handed to every engine, the legacy worker included, through one .npz file), `build(E, arrays)`
(the engine's parameters and constants) and `step(E, state)` (one forward + backward, plus an SGD update
for the training steps); step returns the loss. Digits are 8x8 (minigen.data.digits, static binarization).

(a) graph10: 10 elementwise ops on two 64x64 float32 leaves, forward and backward (no update)
(b) mlp:     MLP 64-256-256-10 on digits, softmax cross-entropy, batch 64, SGD
(c) vae:     minigen's default VAE on digits (64-256-256-2x16, 16-256-256-64, Bernoulli), one SGD step of
             the negative ELBO with the reparameterization noise given
(d) gan:     a small conv GAN: D = conv 1->32 3x3 p1, ReLU, conv 32->64 3x3 s2 p1, ReLU, linear 1024->1;
             G = linear 16->1024, ReLU, (64, 4, 4), nearest 2x upsampling, conv 64->32 3x3 p1, ReLU,
             conv 32->1 3x3 p1, sigmoid. One D step (BCE with logits, real 1, fake 0, fake detached) and
             one G step (non-saturating), each an SGD update
(e) pixelcnn: a small PixelCNN: masked 7x7 conv A 1->64, two residual blocks (1x1 64->32, masked 3x3 B
             32->32, 1x1 32->64, ReLUs), ReLU, 1x1 64->64, ReLU, 1x1 64->1; Bernoulli NLL (BCE with logits)
(a) and (b) also have a hand-written NumPy version: the floor for an engine on NumPy.
"""
from __future__ import annotations

import numpy as np

BATCH = 64
LR = 0.01


def _init(rng, *shape) -> np.ndarray:
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)


def _zeros(n: int) -> np.ndarray:
    return np.zeros(n, np.float32)


def _dense(rng, sizes, prefix: str) -> dict:
    """Weights (out, in) and biases of a stack of linear layers."""
    out = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        out[f"{prefix}w{i}"], out[f"{prefix}b{i}"] = _init(rng, b, a), _zeros(b)
    return out


def _params(E, arrays: dict, names) -> list:
    return [E.param(arrays[n]) for n in names]


def _mlp(E, h, layers):
    """Linear layers with ReLU between them (layers: [(w, b), ...])."""
    for i, (w, b) in enumerate(layers):
        h = E.linear(h, w, b)
        if i < len(layers) - 1:
            h = E.relu(h)
    return h


def _pairs(params) -> list:
    return list(zip(params[0::2], params[1::2]))


def _train(E, params, loss):
    E.zero_grads(params)
    E.backward(loss)
    E.sgd(params, LR)
    return loss


# ------------------------------------------------------------------------------------- (a) 10-op graph

class Graph10:
    name, title = "graph10", "(a) 10-op graph 64x64 fwd+bwd"

    @staticmethod
    def arrays(rng, digits):
        return {"x": rng.standard_normal((64, 64)).astype(np.float32),
                "y": rng.standard_normal((64, 64)).astype(np.float32)}

    @staticmethod
    def build(E, a):
        return {"params": [E.param(a["x"]), E.param(a["y"])]}

    @staticmethod
    def step(E, s):
        x, y = s["params"]
        E.zero_grads(s["params"])
        a = x * y
        b = a + x
        c = E.tanh(b)
        d = c * y
        e = d - x
        f = E.sigmoid(e)
        g = f * 2.0
        h = g + y
        i = E.relu(h)
        j = i * x
        loss = E.sum(j)
        E.backward(loss)
        return loss


# ------------------------------------------------------------------------------------------- (b) MLP

MLP_SIZES = (64, 256, 256, 10)


class MLP:
    name, title = "mlp", "(b) MLP 64-256-256-10 step b64"

    @staticmethod
    def arrays(rng, digits):
        return {"x": digits["images"][:BATCH].reshape(BATCH, -1), "labels": digits["labels"][:BATCH],
                **_dense(rng, MLP_SIZES, "")}

    @staticmethod
    def build(E, a):
        names = [f"{k}{i}" for i in range(3) for k in "wb"]
        return {"params": _params(E, a, names), "x": E.const(a["x"]), "labels": E.labels(a["labels"])}

    @staticmethod
    def step(E, s):
        logits = _mlp(E, s["x"], _pairs(s["params"]))
        return _train(E, s["params"], E.cross_entropy(logits, s["labels"]))


def mlp_numpy(x, labels, params, lr=LR):
    """(b) by hand: forward, softmax cross-entropy, backward and the SGD update, in place."""
    layers = list(zip(params[0::2], params[1::2]))
    inputs, pre, h = [], [], x
    for i, (w, b) in enumerate(layers):
        inputs.append(h)
        pre.append(h @ w.T + b)
        h = np.maximum(pre[-1], 0) if i < len(layers) - 1 else pre[-1]
    shifted = h - h.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(x))
    loss = np.log(total[:, 0]).mean() - shifted[rows, labels].mean()
    g = e / total  # d loss / d logits = (softmax - onehot) / N
    g[rows, labels] -= 1
    g /= len(x)
    grads = []
    for i in reversed(range(len(layers))):
        if i < len(layers) - 1:
            g = g * (pre[i] > 0)
        grads[:0] = [g.T @ inputs[i], g.sum(0)]
        if i:
            g = g @ layers[i][0]
    for p, gp in zip(params, grads):
        p -= lr * gp
    return loss, grads


# ------------------------------------------------------------------------------------------- (c) VAE

VAE_LATENT, VAE_HIDDEN = 16, 256


class VAE:
    name, title = "vae", "(c) VAE step on digits b64"
    encoder = (64, VAE_HIDDEN, VAE_HIDDEN, 2 * VAE_LATENT)
    decoder = (VAE_LATENT, VAE_HIDDEN, VAE_HIDDEN, 64)

    @staticmethod
    def arrays(rng, digits):
        return {"x": digits["images"][:BATCH].reshape(BATCH, -1),
                "eps": rng.standard_normal((BATCH, VAE_LATENT)).astype(np.float32),
                **_dense(rng, VAE.encoder, "e"), **_dense(rng, VAE.decoder, "d")}

    @staticmethod
    def build(E, a):
        names = [f"{p}{k}{i}" for p in "ed" for i in range(3) for k in "wb"]
        return {"params": _params(E, a, names), "x": E.const(a["x"]), "eps": E.const(a["eps"])}

    @staticmethod
    def step(E, s):
        """-ELBO = sum_pixels BCE(decoder(z), x) + KL(N(mu, sigma^2) || N(0, 1)), averaged over the batch,
        z = mu + sigma eps; KL = 1/2 sum (mu^2 + sigma^2 - log sigma^2 - 1)."""
        p, x = s["params"], s["x"]
        h = _mlp(E, x, _pairs(p[:6]))
        mu, logvar = h[:, :VAE_LATENT], h[:, VAE_LATENT:]
        z = mu + E.exp(logvar * 0.5) * s["eps"]
        logits = _mlp(E, z, _pairs(p[6:]))
        nll = E.sum(E.softplus(logits) - x * logits)
        kl = E.sum(mu * mu + E.exp(logvar) - logvar - 1.0) * 0.5
        return _train(E, p, (nll + kl) * (1.0 / BATCH))


# -------------------------------------------------------------------------------------- (d) conv GAN

class GAN:
    name, title = "gan", "(d) conv GAN step D+G b64"
    d_names = ("dw0", "db0", "dw1", "db1", "dw2", "db2")
    g_names = ("gw0", "gb0", "gw1", "gb1", "gw2", "gb2")

    @staticmethod
    def arrays(rng, digits):
        return {"x": digits["images"][:BATCH], "z": rng.standard_normal((BATCH, 16)).astype(np.float32),
                "ones": np.ones((BATCH, 1), np.float32), "zeros": np.zeros((BATCH, 1), np.float32),
                "dw0": _init(rng, 32, 1, 3, 3), "db0": _zeros(32), "dw1": _init(rng, 64, 32, 3, 3),
                "db1": _zeros(64), "dw2": _init(rng, 1, 1024), "db2": _zeros(1),
                "gw0": _init(rng, 1024, 16), "gb0": _zeros(1024), "gw1": _init(rng, 32, 64, 3, 3),
                "gb1": _zeros(32), "gw2": _init(rng, 1, 32, 3, 3), "gb2": _zeros(1)}

    @staticmethod
    def build(E, a):
        return {"params": _params(E, a, GAN.d_names + GAN.g_names),
                **{k: E.const(a[k]) for k in ("x", "z", "ones", "zeros")}}

    @staticmethod
    def discriminator(E, d, x):
        h = E.relu(E.conv2d(x, d[0], d[1], padding=1))
        h = E.relu(E.conv2d(h, d[2], d[3], stride=2, padding=1))
        return E.linear(E.reshape(h, (BATCH, 1024)), d[4], d[5])

    @staticmethod
    def generator(E, g, z):
        h = E.reshape(E.relu(E.linear(z, g[0], g[1])), (BATCH, 64, 4, 4))
        h = E.relu(E.conv2d(E.upsample2(h), g[2], g[3], padding=1))
        return E.sigmoid(E.conv2d(h, g[4], g[5], padding=1))

    @staticmethod
    def step(E, s):
        d, g = s["params"][:6], s["params"][6:]
        fake = GAN.generator(E, g, s["z"])
        real_logits, fake_logits = GAN.discriminator(E, d, s["x"]), GAN.discriminator(E, d, E.detach(fake))
        _train(E, d, E.bce_logits(real_logits, s["ones"]) + E.bce_logits(fake_logits, s["zeros"]))
        E.zero_grads(d)
        return _train(E, g, E.bce_logits(GAN.discriminator(E, d, fake), s["ones"]))


# ------------------------------------------------------------------------------------- (e) PixelCNN

def pixelcnn_mask(k: int, mask_type: str) -> np.ndarray:
    """1 on the taps before the centre in raster order (and on the centre for mask B)."""
    m = np.zeros((k, k), np.float32)
    m[:k // 2] = 1
    m[k // 2, :k // 2 + (mask_type == "B")] = 1
    return m


class PixelCNN:
    name, title = "pixelcnn", "(e) PixelCNN step on digits b64"
    names = ("w0", "b0") + tuple(f"{k}{blk}{i}" for blk in "rs" for i in range(3) for k in "wb") \
        + ("w1", "b1", "w2", "b2")

    @staticmethod
    def arrays(rng, digits):
        a = {"x": digits["images"][:BATCH], "maskA": np.tile(pixelcnn_mask(7, "A"), (64, 1, 1, 1)),
             "maskB": np.tile(pixelcnn_mask(3, "B"), (32, 32, 1, 1)), "w0": _init(rng, 64, 1, 7, 7), "b0": _zeros(64),
             "w1": _init(rng, 64, 64, 1, 1), "b1": _zeros(64), "w2": _init(rng, 1, 64, 1, 1), "b2": _zeros(1)}
        for blk in "rs":
            a.update({f"w{blk}0": _init(rng, 32, 64, 1, 1), f"b{blk}0": _zeros(32),
                      f"w{blk}1": _init(rng, 32, 32, 3, 3), f"b{blk}1": _zeros(32),
                      f"w{blk}2": _init(rng, 64, 32, 1, 1), f"b{blk}2": _zeros(64)})
        return a

    @staticmethod
    def build(E, a):
        return {"params": _params(E, a, PixelCNN.names), "x": E.const(a["x"]),
                "maskA": E.const(a["maskA"]), "maskB": E.const(a["maskB"])}

    @staticmethod
    def step(E, s):
        p, x = s["params"], s["x"]
        h = E.conv2d(x, p[0] * s["maskA"], p[1], padding=3)
        for r in (p[2:8], p[8:14]):
            t = E.relu(E.conv2d(E.relu(h), r[0], r[1]))
            t = E.relu(E.conv2d(t, r[2] * s["maskB"], r[3], padding=1))
            h = h + E.conv2d(t, r[4], r[5])
        h = E.relu(E.conv2d(E.relu(h), p[14], p[15]))
        logits = E.conv2d(h, p[16], p[17])
        return _train(E, p, E.bce_logits(logits, x))


WORKLOADS = {w.name: w for w in (Graph10, MLP, VAE, GAN, PixelCNN)}
