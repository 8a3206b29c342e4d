"""StarGAN's search over the symmetries of the grid (`sym_search`, with input_skip="dihedral" and negatives):
which turn or reflection each (source, target) pair's input skip should carry.

The dihedral skip (translation_nets.UNet) adds GATE_SCALE g (2 sum_k a_k T_k(x) - 1) to G's logits, T_0..T_7 the
8 symmetries of the 8x8 grid and a = softmax of a learned row per pair. Trained by gradient alone, each pair's
mixture settles in the first few hundred steps, before D can tell a turned digit from an upright one, and stays
there (valid pilots: inverted pairs took the half turn, rotated pairs a reflection; README). The search resets
the mixtures every `sym_search` steps instead:

    score(pair, k) = mean over the pair's images of  -log(1 - p_turned(G_k(x, c)))   (min over g = +1, -1)
    sym_loss       = (sym_loss + score) / 2                                            (a running mean)
    choice(pair)   = argmin_k  sym_loss(pair, k) + SYM_MARGIN [k != identity]
    a(pair)        = softmax(SYM_HARD one_hot(choice))                                 (0.89 on the choice)

G_k is G with the skip forced to T_k at full strength (g = +1 or -1: copied or inverted, so a pair whose gain is
still small is judged by what its symmetry would do), p_turned D_cls's probability of the class "turned" (real
images under a random non-identity symmetry, the negatives StarGAN's D_cls learns besides the domains). So a
pair takes the symmetry whose outputs D_cls reads least as turned: a property of real images of every domain,
learned without any pair being told its answer. The generator's own loss (lambda_cls CE - D_src) as the score
chose turns for style pairs once the U-Net had adapted to them (valid class_acc 0.756 against 0.828, 1000 steps);
the mixture moved by gradient alone at a tenth of the rate stayed a blur (0.478).

`sym_choice="orientation"` (session 6) chooses the 30 pairs' symmetries jointly instead of one by one:

    o_0 = identity,  o_1 .. o_{D-1} in D4      (each domain's orientation, relative to the first domain's)
    k(s, t)        = o_t o_s^-1                (the pair's symmetry: undo the source's, apply the target's)
    o              = argmin_o  sum_{s != t}  sym_loss(pair(s, t), k(s, t)) + SYM_MARGIN [k(s, t) != identity]

by trying all 8^(D-1) orientations (32768 for 6 domains). These are exactly the assignments that compose, k(s, t) =
k(u, t) k(s, u) for every u (given any such k, o_d = k(0, d) reproduces it), i.e. translating s -> u -> t moves the
grid as s -> t does, which StarGAN's cycle loss already asks of pairs and their reverses (k(t, s) = k(s, t)^-1).
Why: with one choice per pair, 29 of 30 pairs took exactly the right symmetry in the session-5 zoo run, but thin ->
rotated kept the identity (test class_acc 0.30): a thin digit turned at full strength is what D_cls learned as
"turned" from thin negatives, so the score of the right turn is high for that one source. Jointly, that pair is
outvoted by the others: keeping its identity means turning thin's orientation, which changes its 9 other pairs.
Valid class_acc at 2000 steps: 0.859 -> 0.870 (seed 0; thin -> rotated 0.45 -> 0.82), 0.796 -> 0.822 (seed 1, where
slanted -> rotated had kept the identity, its turn better by less than the margin), all 30 pairs right in both.
The deviation assumes every domain is one orientation of a common frame (true of the digit domains; a domain set
holding the same style at two orientations would need the per-pair choice).
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen import backend
from minigen.data import digit_domains

from . import translation_nets

SYM_SAMPLE = 32  # training images per domain scored at each search
SYM_MARGIN = 0.1  # a turn or reflection replaces the identity only if its score is lower by this much
SYM_HARD = 4.0  # the chosen symmetry's mixture logit (weight e^4 / (e^4 + 7) = 0.89), others 0
CHOICES = ("pair", "orientation")  # sym_choice: each pair's own best symmetry, or the best domain orientations
MAX_DOMAINS = 7  # "orientation" tries all 8^(D-1) orientations: 262144 for 7 domains


def dihedral_products() -> tuple[np.ndarray, np.ndarray]:
    """(mul, inv) over the grid's 8 symmetries in dihedral_matrices' order: P_mul[i, j] = P_i P_j (P_j applied
    first), P_inv[i] = P_i^-1."""
    maps = translation_nets.dihedral_matrices().astype(np.int64)
    flat = maps.reshape(8, -1)
    mul = np.array([[int(np.flatnonzero((flat == (maps[i] @ maps[j]).reshape(-1)).all(axis=1))[0]) for j in range(8)]
                    for i in range(8)])
    return mul, np.argmin(mul, axis=1)  # P_i P_j = I (index 0) for j = inv[i] only


def orientation_choice(cost: np.ndarray, d: int) -> np.ndarray:
    """The symmetries k(s, t) = o_t o_s^-1 of the domain orientations o (o_0 = identity) that minimize
    sum_{s != t} cost[s d + t, k(s, t)] over all 8^(d-1) orientations (module docstring): (d * d,) symmetry indices,
    the identity on the diagonal."""
    if d > MAX_DOMAINS:
        raise ValueError(f"sym_choice='orientation' tries 8^(D-1) orientations; at most {MAX_DOMAINS} domains, got {d}")
    mul, inv = dihedral_products()
    grid = np.stack(np.meshgrid(*[np.arange(8)] * (d - 1), indexing="ij"), axis=-1).reshape(-1, d - 1)
    orient = np.concatenate([np.zeros((len(grid), 1), np.int64), grid], axis=1)  # (8^(d-1), d)
    src, tgt = np.nonzero(~np.eye(d, dtype=bool))
    ks = mul[orient[:, tgt], inv[orient[:, src]]]  # (8^(d-1), pairs): k(s, t) for every orientation
    best = orient[cost[src * d + tgt, ks].sum(axis=1).argmin()]
    return mul[best[None, :], inv[best[:, None]]].reshape(-1)  # entry s d + t: o_t o_s^-1


def search_sample(model) -> tuple:
    """SYM_SAMPLE training images of each of the model's domains, drawn at random: (images, domain indices)."""
    data = digit_domains.unpaired("train", model.domains)
    rng = backend.rng("cpu")
    pick = np.concatenate([rng.choice(np.flatnonzero(data.domains == t), SYM_SAMPLE, replace=False)
                           for t in range(len(model.domains))])
    return mg.tensor(data.images[pick], device=model.device), data.domains[pick]


def choose_symmetries(model, x: mg.Tensor, c_real: np.ndarray) -> float:
    """One search (module docstring) on images x of domains c_real: every image sent to every other domain under
    each forced symmetry and sign; updates model.sym_loss, sym_count and the generator's pair_sym rows of the
    pairs seen, to each pair's best symmetry or (model.sym_choice "orientation") the best domain orientations'.
    Returns the share of those pairs whose favourite symmetry changed."""
    d, gen = len(model.domains), model.generator
    src = np.repeat(c_real, d)
    tgt = np.tile(np.arange(d), len(c_real))
    keep = src != tgt
    src, tgt = src[keep], tgt[keep]
    xs = mg.tensor(np.repeat(x.numpy(), d, axis=0)[keep], device=model.device)
    pairs = src * d + tgt
    score = np.zeros((d * d, 8, 2))
    was = gen.training
    model.eval()
    try:
        with mg.no_grad():
            for k in range(8):
                gen.symmetry = k
                for j, sign in enumerate((1.0, -1.0)):  # at full strength: copied (g = 1), inverted (g = -1)
                    gen.forced_gain = sign
                    z = model.critic_and_classes(model.generate(xs, tgt, src))[1].numpy().astype(np.float64)
                    p = np.exp(z - z.max(axis=1, keepdims=True))
                    turned = p[:, -1] / p.sum(axis=1)  # D_cls's probability of the class "turned"
                    np.add.at(score[:, k, j], pairs, -np.log(np.maximum(1.0 - turned, 1e-12)))
    finally:
        gen.symmetry = gen.forced_gain = None
        model.train(was)
    seen = np.unique(pairs)
    score = score.min(axis=2) / np.maximum(np.bincount(pairs, minlength=d * d), 1)[:, None]  # the better sign
    table = model.sym_loss.numpy().copy()
    fresh = model.sym_count.numpy()[seen] == 0
    table[seen] = np.where(fresh[:, None], score[seen], 0.5 * table[seen] + 0.5 * score[seen])
    model.sym_loss.data = backend.to_device(table.astype(np.float32), model.device)
    count = model.sym_count.numpy().copy()
    count[seen] += 1
    model.sym_count.data = backend.to_device(count, model.device)
    old = gen.pair_sym.numpy().argmax(axis=1)
    cost = table + SYM_MARGIN * (np.arange(8) > 0)  # the identity unless clearly worse
    best = orientation_choice(cost, d) if model.sym_choice == "orientation" else cost.argmin(1)
    rows = gen.pair_sym.numpy().copy()
    rows[seen] = 0.0
    rows[seen, best[seen]] = SYM_HARD / translation_nets.SYM_RATE
    gen.pair_sym.data = backend.to_device(rows.astype(np.float32), model.device)
    return float((old[seen] != best[seen]).mean())
