"""CycleGAN (Zhu et al., 2017): unpaired translation between two domains, thin <-> thick digits here.

Generators G: A -> B and F: B -> A, discriminators D_B (on B) and D_A (on A), with

    L = L_LSGAN(G, D_B) + L_LSGAN(F, D_A) + lambda_cyc L_cyc(G, F) + lambda_id L_id(G, F)
    L_LSGAN(G, D_B): D_B minimises E_b (D_B(b) - 1)^2 / 2 + E_a D_B(G(a))^2 / 2, G minimises E_a (D_B(G(a)) - 1)^2 / 2
    L_cyc  = E_a ||F(G(a)) - a||_1 + E_b ||G(F(b)) - b||_1          (the paper's L1; `cycle_norm = "l2"` squares it,
                                                                   as the course notes draw it)
    L_id   = E_b ||G(b) - b||_1 + E_a ||F(a) - a||_1                (keeps a generator still on its own target domain)

lambda_cyc = 10 and lambda_id = 0.5 lambda_cyc, as in the paper (norms are means per pixel, as the authors' code).
The discriminators are updated on a history of generated images (Shrivastava et al. 2017): a pool of 50; each new
image is stored while the pool fills, then with probability 1/2 it replaces a random stored image, which D sees
instead (so half of D's fakes are older). The pools are buffers, saved with the model. Adam(2e-4, beta1 0.5).
The paper keeps the rate for 100 epochs and decays it linearly to zero over the next 100: `decay_start` = 0.5
gives that shape over the run's steps, lr_t = lr min(1, (T - t) / (T - t_0)) with t_0 = decay_start T (the rate at
step t_0 is lr, at T it would be 0); None (the default, as in the runs before session 6) keeps lr constant. As
with GANModel's decay_steps=None, the schedule spans the run it was made for (a resumed run with more steps
is a different schedule).

The two cycles can be weighted apart, lambda_cyc L_cyc = lambda_A E_a ||F(G(a)) - a||_1 + lambda_B E_b ||G(F(b)) -
b||_1, as the authors' code does (its options lambda_A, lambda_B; the paper writes one lambda = lambda_A =
lambda_B = 10, the default here: `cycle_weight_b` None). Here the weights differ for a reason of the data: thin =
clip(2 x - 1, 0, 1) erases every gray rim below half intensity, so thick -> thin is many-to-one (digits that differ
only in their faint rims share one thin image) and G(F(b)) = b can only hold if F hides the rims in its output (the "steganography" of Chu et al.
2017, CycleGAN, a master of steganography); lambda_B < lambda_A asks less of that hiding while the A cycle, whose
reconstruction the thin input fully determines, keeps its weight.

Deviations: the generators are the U-Net of pix2pix (translation_nets.py) rather than the paper's ResNet with 9
blocks, which is for 256x256 images (the U-Net's 1x1 bottleneck already sees a whole 8x8 digit).
`generator="resnet"` gives that shape scaled to 8x8 (translation_nets.ResNetGenerator); in a valid pilot (3
blocks, identity weight 1, 500 steps) it kept the input's style: class_acc 0.87 but domain_acc 0.28. The
PatchGAN sees 6x6 patches (the paper's 70x70); batches of 64 rather than 1, hence batch norm rather than
instance norm (an instance norm over the 1x1 bottleneck is zero). The zoo run uses identity weight 1, not the
paper's 5, which left the outputs in the input's style (domain_acc 0.40 in a 600-step trial), batches of 32,
lambda_B = 1 (`cycle_weight_b`, above) with lambda_A = 10, and 4,000 steps at a constant rate: valid class_acc /
domain_acc 0.910 / 0.762 and 0.885 / 0.745 with training seeds 0 and 1, against 0.850 / 0.770 and 0.565 / 0.835
with lambda_B = 10 (seed 1 closed the cycles through other digits, 0 -> 7 and 5 -> 3), 0.895 / 0.765 and 0.850 /
0.818 with 2.5; both weights 5 gave 0.912 / 0.728 (seed 0), class_acc bought with domain_acc. Session 6's run,
the paper's decay (decay_start 0.5) over 12,000 steps with lambda_B = 10, read 0.875 / 0.775.
Training data is unpaired (digit_domains.unpaired: each train digit in one domain only); the test split is
paired, so translations have a true target.

Metrics on the test split (every test digit in both domains, models/evaluation/translation.py), averaged over
both directions: cycle_l1 (mean |F(G(a)) - a| and |G(F(b)) - b|), class_acc, domain_acc, test_l1 and the true
targets' class_acc_real and domain_acc_real; and per direction (suffix _ab for A -> B, _ba for B -> A) class_acc,
domain_acc and class_acc_real, the real targets' class_acc, which is that direction's ceiling.
"""
from __future__ import annotations

import minigen as mg
from minigen import backend, optim
from minigen.data import DataLoader, digit_domains

from ..evaluation import translation as measures
from .base import frozen, linear_tail
from .losses import discriminator_loss, generator_loss, grad_norm, reconstruction_loss
from .translation import TranslationGAN
from .translation_nets import PatchGAN, translation_generator


class CycleGAN(TranslationGAN):
    """Two U-Net generators (G: A -> B, F: B -> A), two PatchGANs, LSGAN + cycle + identity losses, image pools."""

    loss_kind = "least-squares"

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 2e-4, "batch_size": 64, "domain_a": "thin", "domain_b": "thick", "cycle_weight": 10.0,
                "identity_weight": 5.0, "cycle_norm": "l1", "pool_size": 50, "channels": [32, 64, 64],
                "d_channels": 32, "dropout": 0.0, "generator": "unet", "blocks": 6, "decay_start": None, "cycle_weight_b": None}

    def __init__(self, data: str = "digit-domains", lr: float = 2e-4, batch_size: int = 64, domain_a: str = "thin",
                 domain_b: str = "thick", cycle_weight: float = 10.0, identity_weight: float = 5.0,
                 cycle_norm: str = "l1", pool_size: int = 50, channels=(32, 64, 64), d_channels: int = 32,
                 dropout: float = 0.0, generator: str = "unet", blocks: int = 6, decay_start: float | None = None,
                 cycle_weight_b: float | None = None):
        super().__init__(data, lr, batch_size)
        if decay_start is not None and not 0.0 <= decay_start < 1.0:
            raise ValueError(f"{self.name}: decay_start must be None or a fraction of the run in [0, 1), "
                             f"got {decay_start}")
        self.decay_start = decay_start
        for dom in (domain_a, domain_b):
            digit_domains.check_domain(dom)
        self.domain_a = self.source_domain = domain_a
        self.domain_b = domain_b
        self.cycle_weight, self.identity_weight, self.cycle_norm = cycle_weight, identity_weight, cycle_norm
        self.cycle_weight_b = cycle_weight if cycle_weight_b is None else cycle_weight_b
        if self.cycle_weight_b < 0:
            raise ValueError(f"{self.name}: cycle_weight_b must be None or >= 0, got {cycle_weight_b}")
        self.pool_size = pool_size
        self.g_ab, self.g_ba = (translation_generator(self.name, generator, 1, channels, dropout, blocks)
                                for _ in range(2))
        self.d_a, self.d_b = PatchGAN(1, d_channels), PatchGAN(1, d_channels)
        for name in ("pool_a", "pool_b"):
            self.register_buffer(name, mg.zeros(max(pool_size, 1), 1, 8, 8))
        self.register_buffer("pool_count", mg.zeros(2))

    def translate(self, x: mg.Tensor, domain=None) -> mg.Tensor:
        """G(x): A -> B (domain None or domain_b); F(x): B -> A for domain = domain_a."""
        return self.g_ba(x) if domain == self.domain_a else self.g_ab(x)

    # ---------------------------------------------------------------------------------------- data
    def loader(self, split: str = "train", batch_size: int | None = None, seed: int = 0, shuffle: bool = True,
               drop_last: bool = True) -> DataLoader:
        """Batches (a, b): unpaired digits, those with an even index in the split drawn in A, odd ones in B, both
        cut to the shorter side's length (with an odd count, the last A digit is never drawn: 648 of 649 in train)."""
        data = digit_domains.unpaired(split, (self.domain_a, self.domain_b))
        a, b = data.images[data.domains == 0], data.images[data.domains == 1]
        m = min(len(a), len(b))
        return DataLoader((a[:m], b[:m]), batch_size=batch_size or self.batch_size, shuffle=shuffle,
                          drop_last=drop_last, seed=seed)

    def eval_batch(self, split: str):
        pairs = digit_domains.paired(split, self.domain_a, self.domain_b)
        return mg.tensor(pairs.source, device=self.device), mg.tensor(pairs.target, device=self.device)

    # ------------------------------------------------------------------------------------ training
    def query_pool(self, which: int, fakes: mg.Tensor) -> mg.Tensor:
        """The history buffer: the images D sees in place of `fakes` (module docstring); updates the pool."""
        if self.pool_size == 0:
            return fakes
        pool = (self.pool_a, self.pool_b)[which]
        out = fakes.numpy().copy()
        stored = pool.numpy()
        count = int(self.pool_count.numpy()[which])
        rng = backend.rng("cpu")
        for i in range(len(out)):
            if count < self.pool_size:
                stored[count] = out[i]
                count += 1
            elif rng.random() < 0.5:
                k = int(rng.integers(0, self.pool_size))
                out[i], stored[k] = stored[k].copy(), out[i].copy()
        pool.data = backend.to_device(stored, self.device)
        counts = self.pool_count.numpy().copy()
        counts[which] = count
        self.pool_count.data = backend.to_device(counts, self.device)
        return mg.tensor(out, device=self.device)

    def cycle_terms(self, a: mg.Tensor, b: mg.Tensor, fake_b: mg.Tensor, fake_a: mg.Tensor) -> tuple:
        """(L_cyc,A, L_cyc,B, L_id) for real a, b and their translations G(a), F(b) (module docstring):
        L_cyc,A = ||F(G(a)) - a||, L_cyc,B = ||G(F(b)) - b||."""
        cycle_a = reconstruction_loss(a, self.g_ba(fake_b), self.cycle_norm)
        cycle_b = reconstruction_loss(b, self.g_ab(fake_a), self.cycle_norm)
        identity = reconstruction_loss(b, self.g_ab(b), "l1") + reconstruction_loss(a, self.g_ba(a), "l1")
        return cycle_a, cycle_b, identity

    def cycle_and_identity(self, a: mg.Tensor, b: mg.Tensor, fake_b: mg.Tensor, fake_a: mg.Tensor) -> tuple:
        """(L_cyc, L_id), L_cyc = L_cyc,A + L_cyc,B unweighted (module docstring)."""
        cycle_a, cycle_b, identity = self.cycle_terms(a, b, fake_b, fake_a)
        return cycle_a + cycle_b, identity

    def generator_objective(self, a: mg.Tensor, b: mg.Tensor) -> tuple:
        """(L, fake_b, fake_a, logs): the generators' objective on real a, b (module docstring), with the cycle
        terms weighted lambda_A = cycle_weight and lambda_B = cycle_weight_b."""
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        adv = (generator_loss(self.loss_kind, self.d_b(fake_b).reshape(-1))
               + generator_loss(self.loss_kind, self.d_a(fake_a).reshape(-1)))
        cycle_a, cycle_b, identity = self.cycle_terms(a, b, fake_b, fake_a)
        cycle = cycle_a + cycle_b
        weighted = (self.cycle_weight * cycle if self.cycle_weight_b == self.cycle_weight  # the paper's (same floats
                    else self.cycle_weight * cycle_a + self.cycle_weight_b * cycle_b)       # as the runs before)
        loss = adv + weighted + (self.identity_weight * identity if self.identity_weight else 0)
        return loss, fake_b, fake_a, {"g_adv": adv, "cycle": cycle, "identity": identity}

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """One update of both generators, then one of both discriminators on pooled fakes (the paper's order)."""
        opt_g, opt_d = optimizers
        a, b = batch[0], batch[1]
        with frozen(self.d_a), frozen(self.d_b):
            loss, fake_b, fake_a, parts = self.generator_objective(a, b)
            opt_g.zero_grad()
            loss.backward()
        logs = {key: value.item() for key, value in parts.items()}
        logs["g_grad_norm"] = grad_norm(list(self.g_ab.parameters()) + list(self.g_ba.parameters()))
        opt_g.step()
        old_b, old_a = self.query_pool(1, fake_b.detach()), self.query_pool(0, fake_a.detach())
        d_loss = (discriminator_loss(self.loss_kind, self.d_b(b).reshape(-1), self.d_b(old_b).reshape(-1))
                  + discriminator_loss(self.loss_kind, self.d_a(a).reshape(-1), self.d_a(old_a).reshape(-1)))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        logs["d_loss"] = d_loss.item()
        return logs

    def configure_optimizers(self) -> list:
        gens = list(self.g_ab.parameters()) + list(self.g_ba.parameters())
        discs = list(self.d_a.parameters()) + list(self.d_b.parameters())
        return [optim.Adam(gens, lr=self.lr, betas=(0.5, 0.999)), optim.Adam(discs, lr=self.lr, betas=(0.5, 0.999))]

    def configure_schedulers(self, optimizers: list, steps: int) -> list:
        """The paper's schedule when decay_start is set: constant, then linear to 0 at `steps` (module docstring)."""
        return [] if self.decay_start is None else linear_tail(optimizers, steps, self.decay_start)

    # ------------------------------------------------------------------------------------ metrics
    def metrics(self, split: str = "test") -> dict:
        """Both directions on the split's pairs: cycle_l1, class_acc, domain_acc, test_l1 (+ the real ceilings)."""
        a, b, labels = digit_domains.paired(split, self.domain_a, self.domain_b)
        fake_b, fake_a = self.translate_numpy(a, self.domain_b), self.translate_numpy(b, self.domain_a)
        cycle_a = self.translate_numpy(fake_b, self.domain_a)
        cycle_b = self.translate_numpy(fake_a, self.domain_b)
        ab, ba = measures.scores(fake_b, b, labels, self.domain_b), measures.scores(fake_a, a, labels, self.domain_a)
        out = measures.mean_scores([(len(a), ab), (len(b), ba)])
        each = {f"{key}_{way}": part[key] for way, part in (("ab", ab), ("ba", ba))
                for key in ("class_acc", "domain_acc", "class_acc_real")}  # per direction, beside its ceiling
        return {"cycle_l1": 0.5 * (measures.test_l1(cycle_a, a) + measures.test_l1(cycle_b, b)), **out, **each}

    def sample_figure(self, path: str, n: int = 64) -> str:
        """Columns a | G(a) | F(G(a)) | b | F(b) | G(F(b)) for min(n, 16) test digits."""
        a, b, _ = digit_domains.paired("test", self.domain_a, self.domain_b)
        k = min(n, 16)
        fake_b, fake_a = self.translate_numpy(a[:k], self.domain_b), self.translate_numpy(b[:k], self.domain_a)
        return self.save_rows([a[:k], fake_b, self.translate_numpy(fake_b, self.domain_a),
                               b[:k], fake_a, self.translate_numpy(fake_a, self.domain_b)], path)

