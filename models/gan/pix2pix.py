"""pix2pix (Isola et al., 2017): a conditional GAN for paired image-to-image translation, outline -> digit here.

    G* = arg min_G max_D  L_cGAN(G, D) + lambda L_L1(G)
    L_cGAN = E_{x,y} log D(x, y) + E_x log(1 - D(x, G(x)))          D sees the pair (input, output) stacked
    L_L1   = E_{x,y} ||y - G(x)||_1

G is the U-Net and D the PatchGAN (translation_nets.py: one logit per 6x6 patch of the 8x8 pair, the loss
averaged over patches); there is no z: the noise is dropout in the generator, as in the paper. D's objective is
halved (the paper divides it by 2 to slow D down); G takes the non-saturating form -log D(x, G(x)).
Adam(2e-4, beta1 0.5), batch 64 (the paper's batch 1 to 10 on 256x256 images).

Deviations, each for a reason: lambda = 100 per pixel on images in [0, 1], which is the paper's lambda = 100 on
[-1, 1] halved in effect (|y - G(x)| halves with the range); it was not tuned here (one setting, for lack of
machine time), and at 8x8 the patch discriminator sees 6x6 of the image, so the adversarial term already
reaches most of the global structure the paper's L1 term was for. The output is a sigmoid on [0, 1] instead of
tanh on [-1, 1]. Dropout and batch norm follow eval mode at test time (the paper keeps both on) so that a
translation is a fixed function.
`adv_weight = 0` gives the L1-only U-Net, the paper's "L1" column (zoo key pix2pix@l1).

Metrics (models/evaluation/translation.py) on the test split's pairs: test_l1, class_acc (the digits classifier
reads the output as the input's digit), domain_acc; the identity baseline (the input itself as the output)
as test_l1_identity and class_acc_identity; the true targets' class_acc_real and domain_acc_real.
"""
from __future__ import annotations

import minigen as mg
from minigen import optim
from minigen.data import DataLoader, digit_domains

from ..evaluation import translation as measures
from .base import frozen
from .losses import discriminator_loss, generator_loss, grad_norm, reconstruction_loss
from .translation import TranslationGAN
from .translation_nets import PatchGAN, UNet


class Pix2Pix(TranslationGAN):
    """U-Net generator, PatchGAN on (input, output) pairs, L1 + adversarial loss; paired digit domains."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 2e-4, "batch_size": 64, "source": "outline", "target": "digit", "l1_weight": 100.0,
                "adv_weight": 1.0, "channels": [32, 64, 64], "d_channels": 32, "dropout": 0.5}

    def __init__(self, data: str = "digit-domains", lr: float = 2e-4, batch_size: int = 64, source: str = "outline",
                 target: str = "digit", l1_weight: float = 100.0, adv_weight: float = 1.0, channels=(32, 64, 64),
                 d_channels: int = 32, dropout: float = 0.5):
        super().__init__(data, lr, batch_size)
        for dom in (source, target):
            digit_domains.check_domain(dom)
        self.source_domain, self.target_domain = source, target
        self.l1_weight, self.adv_weight = l1_weight, adv_weight
        self.generator = UNet(1, 1, tuple(channels), dropout)
        self.discriminator = PatchGAN(2, d_channels)

    def translate(self, x: mg.Tensor, domain=None) -> mg.Tensor:
        return self.generator(x)

    def loader(self, split: str = "train", batch_size: int | None = None, seed: int = 0, shuffle: bool = True,
               drop_last: bool = True) -> DataLoader:
        """Batches (source, target, label) of the split's aligned pairs."""
        pairs = digit_domains.paired(split, self.source_domain, self.target_domain)
        return DataLoader(tuple(pairs), batch_size=batch_size or self.batch_size, shuffle=shuffle,
                          drop_last=drop_last, seed=seed)

    def eval_batch(self, split: str):
        pairs = digit_domains.paired(split, self.source_domain, self.target_domain)
        return tuple(mg.tensor(a, device=self.device) for a in pairs)

    def pair_logits(self, x: mg.Tensor, y: mg.Tensor) -> mg.Tensor:
        """D(x, y): the patch logits of the stacked pair, flattened (n * patches,)."""
        return self.discriminator(mg.cat([x, y], axis=1)).reshape(-1)

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """One D update on (x, y) against (x, G(x)), then one G update on the adversarial and L1 terms."""
        opt_g, opt_d = optimizers
        x, y = batch[0], batch[1]
        fake = self.generator(x)
        logs = {}
        if self.adv_weight:
            d_loss = 0.5 * discriminator_loss("non-saturating", self.pair_logits(x, y),
                                              self.pair_logits(x, fake.detach()))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            logs["d_loss"] = d_loss.item()
        with frozen(self.discriminator):
            l1 = reconstruction_loss(y, fake, "l1")
            loss = self.l1_weight * l1
            if self.adv_weight:
                adv = generator_loss("non-saturating", self.pair_logits(x, fake))
                loss = loss + self.adv_weight * adv
                logs["g_adv"] = adv.item()
            opt_g.zero_grad()
            loss.backward()
        logs.update(l1=l1.item(), g_grad_norm=grad_norm(self.generator.parameters()))
        opt_g.step()
        return logs

    def configure_optimizers(self) -> list:
        return [optim.Adam(self.generator.parameters(), lr=self.lr, betas=(0.5, 0.999)),
                optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=(0.5, 0.999))]

    def metrics(self, split: str = "test") -> dict:
        """test_l1, class_acc, domain_acc of G on the split's pairs, the identity baseline and the real ceiling."""
        src, tgt, labels = digit_domains.paired(split, self.source_domain, self.target_domain)
        out = measures.scores(self.translate_numpy(src), tgt, labels, self.target_domain)
        out["test_l1_identity"] = measures.test_l1(src, tgt)
        out["class_acc_identity"] = measures.class_acc(src, labels, self.target_domain)
        return out

    def sample_figure(self, path: str, n: int = 64) -> str:
        """Columns input | output | target for the first min(n, 16) test pairs."""
        src, tgt, _ = digit_domains.paired("test", self.source_domain, self.target_domain)
        k = min(n, 16)
        return self.save_rows([src[:k], self.translate_numpy(src[:k]), tgt[:k]], path)

