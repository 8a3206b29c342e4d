"""StarGAN (Choi et al., 2018): one generator translates an image into any of several domains, the target domain
given as input; here the digits drawn plain, thick, thin, inverted, rotated and slanted.

G(x, c) takes the image and the target domain c (a one-hot map, tiled over the pixels and stacked as channels).
D has two heads on one trunk: D_src(x), the real/fake patch scores, and D_cls(x), logits over the domains.

    D:  L_adv + lambda_cls L_cls^r + lambda_gp L_gp          L_cls^r = E_{x,c'} -log D_cls(c' | x)    (real x of c')
    G: -L_adv + lambda_cls L_cls^f + lambda_rec L_rec + lambda_id L_id
                                                             L_cls^f = E_{x,c} -log D_cls(c | G(x, c))
    L_adv = E_x D_src(x) - E_{x,c} D_src(G(x, c))            (the WGAN-GP form, as the paper's experiments)
    L_rec = E_{x,c,c'} ||x - G(G(x, c), c')||_1              (the cycle back to the original domain c')
    L_id  = E_{x,c'} ||x - G(x, c')||_1                      (not in the paper: the identity loss of CycleGAN,
                                                              asked to leave an image in its own domain c' alone)
    L_gp  = E_xhat (||grad_xhat sum_patches D_src(xhat)||_2 - 1)^2, xhat between x and G(x, c) (losses.py)

lambda_cls = 1, lambda_rec = 10, lambda_gp = 10, n_critic = 5, Adam(1e-4, betas (0.5, 0.999)), target domains
drawn uniformly for every image, as in the paper; lambda_id = 0 by default (the paper's loss), 10 in the zoo run.
The penalty's critic is D_src summed over patches, as the authors' code takes the gradient of its patch map with
all-ones output gradients.

Deviations: the generator is the pix2pix U-Net (translation_nets.py) with 1 + D input channels instead of the
paper's down-sampling / 6 residual blocks / up-sampling net for 128x128 faces (at 8x8 the U-Net's 1x1 bottleneck
sees the whole digit, which a rotation needs); `generator="resnet"` gives the paper's shape scaled to 8x8
(ResNetGenerator: one down-sampling to 4x4, `blocks` residual blocks, one up-sampling), which did no better in
the valid pilots (class_acc 0.417 against the U-Net's 0.418 at 1000 steps, both with lambda_id = 10). The identity
loss is added because without it the generator redraws even the plain domains as a few template digits (valid
class_acc 0.00 from digit to thick, thin or slanted after 600 steps; 0.85-0.96 with lambda_id = 10). It does not
rescue inverted and rotated targets or sources (class_acc near 0 and 0.2 there: the cycle is closed through
another digit, a class permutation the adversarial and cycle losses cannot tell from the identity).

Two generator options (session 4; both on in the zoo run, off by default), chosen on valid pilots of 1000 steps:
- `cond_norm`: conditional normalization as in StarGAN v2's AdaIN, with a learned table for the style network:
  every U-Net level is scaled and shifted per target domain (translation_nets.DomainAffine), besides the
  one-hot input channels. Alone it changed nothing (valid class_acc 0.420 against 0.418; inverted still 0.02).
- `input_skip="gain"`: G(x, c) = sigmoid(U(x, c) + 4 g_{c',c} (2x - 1)), one learned gain g = tanh(25 w) per
  (source c', target c) pair, w = 0 at the start. Inverting is then one sign flip (g = -1 gives ~1 - x), which
  gradient descent finds: valid class_acc into and out of inverted rose from 0.00-0.03 to 0.7-1.0, overall
  0.42 -> 0.58. G now reads the source domain: in training the known c' (L_rec: G(G(x, c), c') has source c),
  in translate() and the metrics D_cls's reading of the input (source_domains), so nothing outside the model
  is told. The gains must start at 0 and move fast: started at 0.25, or moved at rate 1, the U-Net settled on the
  permutation first (inverted 0.02). A per-pair 64 x 64 linear pixel map in place of the gain (which could
  express the rotation) drew templates instead (valid class_acc 0.13 at 500 steps), and an affine spatial
  transformer per pair on the skipped input learned the slant's shear but not the rotation (0.577): both dropped.
- `input_skip="warps"` (the variant stargan@warps): WARPS = 4 such skips per pair, each through its own learned
  affine spatial transformer, the first starting at the identity and the others at random turns, each with its
  own gain. Starting from a random angle, some pairs turn the image by the right quarter (valid thick -> rotated
  0.97, rotated -> thick 0.88), but turns by 180 degrees are as good to D for some style pairs (digit <-> thick
  fell to 0.3): valid 0.648 / 0.962 at 1000 steps against the gain's 0.654 / 0.879.
  With the skip, copying is easy and valid domain_acc fell to 0.63; lambda_cls = 5 (the zoo run) restores
  it (0.89 at 2000 steps, class_acc 0.65; lambda_cls = 3: 0.85 / 0.645 at 1000 steps).
Session 5 (all off by default; on in the zoo run), for the rotated domain, chosen on valid pilots of 1000 steps:
- `input_skip="dihedral"`: on the 8x8 grid a quarter turn is a permutation of the 64 pixels, which convolutions
  express poorly but a map of the flattened image expresses exactly. The skip carries, per pair, a mixture
  sum_k a_k T_k(x) of the 8 symmetries of the grid (turns by 0, 90, 180, 270 degrees, and the same after a
  transpose: translation_nets.dihedral_matrices), a = softmax(learned row), times the pair's gain as before. A
  dense 64 x 64 map per pair (`input_skip="dense"`, from the identity) is the unconstrained version; it moved the
  style pairs' digits into others and left rotated wrong (valid 0.349 / 0.797, 1000 steps). With a
  uniform start, inverted <-> rotated became right (valid 0.97 / 1.00), but the mixtures settled within a few
  hundred steps on the half turn for inverted pairs and reflections for rotated ones (0.599 / 0.933); started at
  the identity (logit 3 or 5) they never left it (0.668, 0.657: rotated 0.2).
- `critic="per_domain"`: D_src has one patch map per domain and judges each image by its (target) domain's
  map, the multi-task discriminator of StarGAN v2 (here under WGAN-GP). A single D_src must call turned digits
  real, since the rotated domain is one; per domain it need not.
- `negatives=true`: real images under a random non-identity grid symmetry (translation_nets.dihedral_matrices)
  are, for D_cls, an extra class "turned", and with critic="per_domain" fakes of their own domain's map:
  negative data augmentation (Sinha et al. 2021). It assumes the domains are not closed under the grid's
  symmetries, which holds here except that a digit turned by 90 degrees is a real rotated image (and the
  rotated one turned back a real digit): 2 of 42 (domain, symmetry) cases are labelled "turned" though real.
  Alone (with the dihedral skip) these two changed little: 0.610 / 0.952 (thin <-> rotated right).
- `sym_search=N`: every N steps each pair's mixture is reset to the symmetry whose full-strength outputs D_cls
  reads least as "turned" (symmetry_search.py, with why gradient alone does not find it): 0.828 / 0.960 at
  1000 steps (rotated source 0.96, target 0.69), against the session-4 gain's 0.654 / 0.879; 0.870 / 0.971 at
  2000 steps, the session-5 zoo run (test 0.845 / 0.963: 29 of 30 pairs carry exactly the right symmetry, thin ->
  rotated kept the identity: a thin digit turned at full strength is what the "turned" class learned from thin
  negatives).
- `sym_choice="orientation"` (session 6; "pair" by default, the session-5 search): the search chooses all pairs'
  symmetries at once, k(s, t) = o_t o_s^-1 from one orientation o_d per domain, the assignments that compose
  (translating s -> u -> t moves the grid as s -> t does; symmetry_search.py). One pair's misleading score is then
  outvoted by the pairs that share its domains. Valid, 2000 steps, the session-5 settings otherwise: seed 0
  0.870 / 0.953 against 0.859 / 0.966 with one choice per pair (thin -> rotated 0.82 against 0.45: the turn, and
  all 30 pairs exactly right); seed 1 0.822 / 0.996 against 0.796 / 1.000 (one by one, slanted -> rotated kept the
  identity: 0.06 against 0.55). The zoo runs stargan, stargan-seed1 and stargan-seed2, trained 4000 steps (valid
  seed 0 / seed 1: 0.870 / 0.822 at 2000, 0.876 / 0.858 at 3000, 0.882 / 0.861 at 4000, 0.883 / 0.869 at 5000,
  0.882 / 0.863 at 6000; the StarGAN paper's linear decay of the rate to 0 over the second half of 4000 steps:
  0.879 / 0.861, no gain, so the rate stays constant).
The skip still reads the source domain from D_cls at test time; nothing about the domains' definitions enters
except the grid's symmetry group as the skip's hypotheses and as negatives.
With the single gain, rotated stays wrong (valid class_acc 0.1-0.36 into or out of it): the rotation is a
geometric change no path of that generator makes easy, so the cycle again closes through other digits; "warps"
learns it only for the pairs whose random start lay near the right quarter turn (README, stargan@warps). Batch norm
in G (an instance norm of the 1x1 bottleneck is zero) and none in D (the penalty is per example); D's trunk is
the PatchGAN's (6x6 patches) and D_cls a 3x3 convolution over its 3x3 map. Training data is unpaired (each
train digit in one domain only, digit k in domain k mod D); the test split gives every digit in every domain,
so translations have a true target.

Metrics on the test split: each test digit in its own domain (k mod D) translated into every other domain;
class_acc and domain_acc over all those translations (models/evaluation/translation.py), with test_l1 against
the true targets and the real targets' class_acc_real and domain_acc_real.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, nn, optim
from minigen.data import DataLoader, digit_domains

from ..evaluation import translation as measures
from . import symmetry_search
from .base import frozen
from .losses import discriminator_loss, generator_loss, grad_norm, gradient_penalty, reconstruction_loss
from .translation import TranslationGAN
from .translation_nets import PatchGAN, dihedral_matrices, translation_generator

CRITICS = ("shared", "per_domain")
DEFAULT_DOMAINS = ["digit", "thick", "thin", "inverted", "rotated", "slanted"]


class StarGAN(TranslationGAN):
    """One U-Net generator conditioned on the target domain; a PatchGAN critic with an auxiliary domain classifier."""

    loss_kind = "wasserstein"

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-4, "batch_size": 32, "n_critic": 5, "domains": list(DEFAULT_DOMAINS), "cls_weight": 1.0,
                "rec_weight": 10.0, "id_weight": 0.0, "gp_weight": 10.0, "channels": [32, 64, 64], "d_channels": 32,
                "dropout": 0.0, "generator": "unet", "blocks": 6, "cond_norm": False, "input_skip": "none",
                "critic": "shared", "negatives": False, "sym_search": 0, "sym_choice": "pair"}

    def __init__(self, data: str = "digit-domains", lr: float = 1e-4, batch_size: int = 32, n_critic: int = 5,
                 domains=tuple(DEFAULT_DOMAINS), cls_weight: float = 1.0, rec_weight: float = 10.0,
                 id_weight: float = 0.0, gp_weight: float = 10.0, channels=(32, 64, 64), d_channels: int = 32,
                 dropout: float = 0.0, generator: str = "unet", blocks: int = 6, cond_norm: bool = False,
                 input_skip: str = "none", critic: str = "shared", negatives: bool = False,
                 sym_search: int = 0, sym_choice: str = "pair"):
        super().__init__(data, lr, batch_size, n_critic=n_critic)
        self.domains = tuple(domains)
        if len(self.domains) < 2:
            raise ValueError(f"{self.name}: needs at least two domains, got {self.domains}")
        for dom in self.domains:
            digit_domains.check_domain(dom)
        self.cls_weight, self.rec_weight, self.gp_weight = cls_weight, rec_weight, gp_weight
        self.id_weight = id_weight
        d = len(self.domains)
        self.cond_norm, self.input_skip = bool(cond_norm), input_skip
        if input_skip != "none" and not cond_norm:
            raise ValueError(f"{self.name}: input_skip needs cond_norm (the conditional U-Net)")
        self.generator = translation_generator(self.name, generator, 1 + d, channels, dropout, blocks,
                                               d if self.cond_norm else 0, input_skip)
        if critic not in CRITICS:
            raise ValueError(f"{self.name}: critic must be one of {CRITICS}, got {critic!r}")
        self.critic, self.negatives = critic, bool(negatives)
        if sym_search and (input_skip != "dihedral" or not negatives):
            raise ValueError(f"{self.name}: sym_search chooses among the symmetries of input_skip='dihedral' by "
                             "D_cls's class 'turned' (negatives=true)")
        self.sym_search = int(sym_search)
        if sym_choice not in symmetry_search.CHOICES:
            raise ValueError(f"{self.name}: sym_choice must be one of {symmetry_search.CHOICES}, got {sym_choice!r}")
        self.sym_choice = sym_choice
        if self.sym_search:  # the running mean of each pair's loss under each symmetry, and how often it was seen
            self.register_buffer("sym_loss", mg.zeros(d * d, 8))
            self.register_buffer("sym_count", mg.zeros(d * d))
        self.discriminator = PatchGAN(1, d_channels, d if critic == "per_domain" else 1, norm=False)
        self.classifier = nn.Conv2d(2 * d_channels, d + int(self.negatives), 3)  # + the class "turned"

    # ---------------------------------------------------------------------------------- the model
    def domain_index(self, domain, n: int) -> np.ndarray:
        """Target domains as n indices: a name, an index, one per image, or None (image i -> domain i mod D)."""
        if domain is None:
            return np.arange(n) % len(self.domains)
        values = np.atleast_1d(np.asarray(domain))
        if values.dtype.kind in "US":
            unknown = [v for v in values if v not in self.domains]
            if unknown:
                raise ValueError(f"{self.name}: unknown target domain(s) {unknown}; its domains are {self.domains}")
            values = np.array([self.domains.index(v) for v in values])
        return np.broadcast_to(values.astype(np.int64), (n,)).copy()

    def generate(self, x: mg.Tensor, c: np.ndarray, source: np.ndarray | None = None) -> mg.Tensor:
        """G(x, c) for domain indices c (n,): the one-hot of c tiled over the 8x8 pixels, stacked on x; with
        cond_norm also the one-hot c itself, with an input_skip the (source, target) pairs, the source domains of x
        given or else read by the critic's domain classifier (source_domains)."""
        d = len(self.domains)
        onehot = np.zeros((x.shape[0], d, 8, 8), np.float32)
        onehot[np.arange(x.shape[0]), c] = 1.0
        h = mg.cat([x, mg.tensor(onehot, device=self.device)], axis=1)
        if not self.cond_norm:
            return self.generator(h)
        if self.input_skip == "none":
            return self.generator(h, mg.tensor(onehot[:, :, 0, 0], device=self.device))
        source = self.source_domains(x) if source is None else np.asarray(source)
        pair = np.zeros((x.shape[0], d * d), np.float32)
        pair[np.arange(x.shape[0]), source * d + np.asarray(c)] = 1.0
        return self.generator(h, mg.tensor(onehot[:, :, 0, 0], device=self.device), mg.tensor(pair, device=self.device))

    def source_domains(self, x: mg.Tensor) -> np.ndarray:
        """The domain of each image of x as D_cls reads it (argmax of its logits), for the input skip at test time."""
        with mg.no_grad():
            return self.critic_and_classes(x.detach())[1].numpy()[:, :len(self.domains)].argmax(1)

    def translate(self, x: mg.Tensor, domain=None) -> mg.Tensor:
        return self.generate(x, self.domain_index(domain, x.shape[0]))

    def critic_and_classes(self, x: mg.Tensor, heads: np.ndarray | None = None) -> tuple:
        """(D_src patch scores (n, 9), D_cls logits (n, D)); with critic="per_domain" the scores of head heads[i]
        (the domain image i is judged as), None when heads is None."""
        h = self.discriminator.trunk(x)
        src = self.discriminator.head(h)
        if self.critic == "per_domain":
            if heads is None:
                src = None
            else:
                pick = np.zeros((x.shape[0], len(self.domains), 1, 1), np.float32)
                pick[np.arange(x.shape[0]), np.asarray(heads)] = 1.0
                src = (src * mg.tensor(pick, device=self.device)).sum(axis=1)
        return (None if src is None else src.flatten(1)), self.classifier(h).flatten(1)

    def turned(self, x: mg.Tensor) -> mg.Tensor:
        """Each image under a random non-identity symmetry of the grid (a turn by 90, 180 or 270 degrees or a
        reflection): the negatives of `negatives`."""
        k = backend.rng("cpu").integers(1, 8, x.shape[0])
        maps = dihedral_matrices()[k]  # (n, 64, 64)
        flat = x.numpy().reshape(x.shape[0], 64, 1)
        return mg.tensor((maps @ flat).reshape(x.shape), device=self.device)

    def source_images(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        data = digit_domains.unpaired(split, self.domains)
        return data.images, data.labels

    # ---------------------------------------------------------------------------------------- data
    def loader(self, split: str = "train", batch_size: int | None = None, seed: int = 0, shuffle: bool = True,
               drop_last: bool = True) -> DataLoader:
        """Batches (images, domain indices) of n_critic * batch_size unpaired digits (each in one domain)."""
        data = digit_domains.unpaired(split, self.domains)
        size = (batch_size or self.batch_size) * (self.n_critic if split == "train" else 1)
        return DataLoader((data.images, data.domains), batch_size=size, shuffle=shuffle, drop_last=drop_last,
                          seed=seed)

    def eval_batch(self, split: str):
        data = digit_domains.unpaired(split, self.domains)
        return mg.tensor(data.images, device=self.device), mg.tensor(data.domains, device=self.device)

    # ------------------------------------------------------------------------------------ training
    def random_domains(self, n: int) -> np.ndarray:
        return backend.rng("cpu").integers(0, len(self.domains), n)

    def critic_step(self, x: mg.Tensor, c_real: np.ndarray, opt_d) -> dict:
        """D: -D_src(x) + D_src(G(x, c)) + lambda_cls CE(D_cls(x), c') + lambda_gp L_gp."""
        c = self.random_domains(x.shape[0])
        with mg.no_grad():
            fake = self.generate(x, c, c_real)
        src_real, cls_real = self.critic_and_classes(x, c_real)
        src_fake, _ = self.critic_and_classes(fake, c)
        adv = discriminator_loss(self.loss_kind, src_real.reshape(-1), src_fake.reshape(-1))
        cls = F.cross_entropy(cls_real, mg.tensor(c_real, device=self.device))
        gp = gradient_penalty(lambda z: self.critic_and_classes(z, c)[0].sum(axis=1), x, fake, self.gp_weight)
        if self.negatives:  # real images turned or mirrored: D_cls's class "turned", fakes of their own domain's head
            neg = self.turned(x)
            src_neg, cls_neg = self.critic_and_classes(neg, c_real)
            cls = cls + F.cross_entropy(cls_neg, mg.tensor(np.full(x.shape[0], len(self.domains)), device=self.device))
            if self.critic == "per_domain":
                adv = adv + discriminator_loss(self.loss_kind, src_real.reshape(-1), src_neg.reshape(-1))
                gp = gp + gradient_penalty(lambda z: self.critic_and_classes(z, c_real)[0].sum(axis=1), x, neg,
                                           self.gp_weight)
        loss = adv + self.cls_weight * cls + gp
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        return {"d_adv": adv.item(), "d_cls": cls.item(), "gp": gp.item()}

    def generator_update(self, x: mg.Tensor, c_real: np.ndarray, opt_g) -> dict:
        """G: -D_src(G(x, c)) + lambda_cls CE(D_cls(G(x, c)), c) + lambda_rec |x - G(G(x, c), c')|
        + lambda_id |x - G(x, c')|."""
        c = self.random_domains(x.shape[0])
        with frozen(self.discriminator), frozen(self.classifier):
            fake = self.generate(x, c, c_real)
            src_fake, cls_fake = self.critic_and_classes(fake, c)
            adv = generator_loss(self.loss_kind, src_fake.reshape(-1))
            cls = F.cross_entropy(cls_fake, mg.tensor(c, device=self.device))
            rec = reconstruction_loss(x, self.generate(fake, c_real, c), "l1")
            loss = adv + self.cls_weight * cls + self.rec_weight * rec
            if self.id_weight:
                loss = loss + self.id_weight * self.identity_loss(x, c_real)
            opt_g.zero_grad()
            loss.backward()
        logs = {"g_adv": adv.item(), "g_cls": cls.item(), "rec": rec.item(),
                "g_grad_norm": grad_norm(self.generator.parameters())}
        opt_g.step()
        return logs

    def identity_loss(self, x: mg.Tensor, c_real: np.ndarray) -> mg.Tensor:
        """L_id = |x - G(x, c')|, c' the domain x is in (module docstring; not in the paper)."""
        return reconstruction_loss(x, self.generate(x, c_real, c_real), "l1")

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """n_critic critic updates (one per minibatch of the batch), then one generator update."""
        opt_g, opt_d = optimizers
        x, c = batch[0], batch[1].numpy()
        k = self.n_critic
        n = x.shape[0] // k
        if n < 1:
            raise ValueError(f"{self.name}: a batch of {x.shape[0]} images is too small for n_critic={k}")
        logs: dict = {}
        for i in range(k):
            for key, v in self.critic_step(x[i * n:(i + 1) * n], c[i * n:(i + 1) * n], opt_d).items():
                logs[key] = logs.get(key, 0.0) + v / k
        if self.sym_search and step % self.sym_search == 0:
            logs["sym_switches"] = symmetry_search.choose_symmetries(self, *symmetry_search.search_sample(self))
        logs.update(self.generator_update(x[:n], c[:n], opt_g))
        return logs

    def configure_optimizers(self) -> list:
        critic = list(self.discriminator.parameters()) + list(self.classifier.parameters())
        return [optim.Adam(self.generator.parameters(), lr=self.lr, betas=(0.5, 0.999)),
                optim.Adam(critic, lr=self.lr, betas=(0.5, 0.999))]

    # ------------------------------------------------------------------------------------ metrics
    def metrics(self, split: str = "test") -> dict:
        """class_acc, domain_acc, test_l1 of every test digit translated from its domain into each other one;
        class_acc_SOURCE_TARGET of each (source, target) pair (averaged by the pairs' sizes, class_acc)."""
        data = digit_domains.unpaired(split, self.domains)
        parts, pairs = [], {}
        for t, target in enumerate(self.domains):
            mine = data.domains != t
            truth, _ = digit_domains.domain_images(split, target)
            out = self.translate_numpy(data.images[mine], np.full(int(mine.sum()), t))
            parts.append((int(mine.sum()), measures.scores(out, truth[mine], data.labels[mine], target)))
            right = measures.digit_predictions(out, target) == data.labels[mine]
            for s, source in enumerate(self.domains):
                if s != t:
                    pairs[f"class_acc_{source}_{target}"] = float(right[data.domains[mine] == s].mean())
        return {**measures.mean_scores(parts), **pairs}

    def sample_figure(self, path: str, n: int = 64) -> str:
        """Columns input | each domain's translation for min(n, 12) test digits (two of each source domain)."""
        data = digit_domains.unpaired("test", self.domains)
        k = min(n, 2 * len(self.domains))
        x = data.images[:k]
        return self.save_rows([x] + [self.translate_numpy(x, np.full(k, t)) for t in range(len(self.domains))], path)
