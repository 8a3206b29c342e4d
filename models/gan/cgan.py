"""Conditional GAN (Mirza & Osindero, 2014) as the paper sets it up, and its multimodal use.

Images (task="images"): z of 100 from U[0, 1]; G: z -> 200 ReLU and y (one-hot) -> 1000 ReLU, joined -> 1200
ReLU -> sigmoid pixels; D: x -> maxout 240 units x 5 pieces, y -> maxout 50 x 5, joined -> maxout 240 x 4 ->
sigmoid (a logit here, the sigmoid folded into the loss); dropout 0.5 in both; batch 100; SGD with the
learning rate decayed from 0.1 by 1.00004 per update toward 1e-6 and momentum ramped 0.5 -> 0.7. Model
selection: every `select_every` steps the Gaussian Parzen-window log-likelihood of the validation split is
estimated and the generator with the best one is kept (and used by `sample` and `metrics`). On the 2-D toys
the label is the index of the Gaussian a point was drawn from (its nearest mode) and the layers are 4x narrower.
The paper's initial learning rate of 0.1 diverges when the output is unbounded (2-D points, word vectors):
there the schedule starts at 0.02.

Words (task="words"): the paper's image-to-tag use. The condition is an image's features (the project's digits
classifier, 64 numbers) and the generated object a word vector. Each digit has three names (English, German,
Spanish) whose fixed 64-dimensional vectors are built honestly from hashed character n-grams (see
`word_vectors`); a training target is one of the three names at random, so p(word | image) is multimodal.
The score is how often the nearest vocabulary word (cosine) to a generated vector names the right digit.
"""
from __future__ import annotations

import copy
import zlib

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import nn, optim

from .base import GANModel

NAMES = (("zero", "null", "cero"), ("one", "eins", "uno"), ("two", "zwei", "dos"), ("three", "drei", "tres"),
         ("four", "vier", "cuatro"), ("five", "fuenf", "cinco"), ("six", "sechs", "seis"),
         ("seven", "sieben", "siete"), ("eight", "acht", "ocho"), ("nine", "neun", "nueve"))
WORD_DIM = 64


def word_vectors(dim: int = WORD_DIM) -> np.ndarray:
    """(10, 3, dim) unit vectors: each word's character 2- and 3-grams of "<word>", hashed (CRC-32) to a
    coordinate and a sign, summed and normalised. Words that share spelling share direction; nothing is learnt."""
    out = np.zeros((len(NAMES), 3, dim), np.float32)
    for d, names in enumerate(NAMES):
        for k, word in enumerate(names):
            w = f"<{word}>"
            for n in (2, 3):
                for i in range(len(w) - n + 1):
                    h = zlib.crc32(w[i:i + n].encode())
                    out[d, k, h % dim] += 1.0 if (h >> 16) & 1 else -1.0
            out[d, k] /= np.linalg.norm(out[d, k])
    return out


class _Branches(nn.Module):
    """Two input branches (data, condition) joined by concatenation into one hidden layer, then an output."""

    def __init__(self, x_branch: nn.Module, c_branch: nn.Module, joint: nn.Module):
        super().__init__()
        self.x_branch, self.c_branch, self.joint = x_branch, c_branch, joint

    def forward(self, x: mg.Tensor, c: mg.Tensor) -> mg.Tensor:
        return self.joint(mg.cat([self.x_branch(x.flatten(1)), self.c_branch(c)], axis=1))


def cgan_generator(z_dim: int, c_dim: int, out_dim: int, z_units: int, c_units: int, joint_units: int,
                   dropout: float, out_activation) -> _Branches:
    relu = lambda i, o: [nn.Linear(i, o), nn.ReLU(), nn.Dropout(dropout)]
    return _Branches(nn.Sequential(*relu(z_dim, z_units)), nn.Sequential(*relu(c_dim, c_units)),
                     nn.Sequential(*relu(z_units + c_units, joint_units), nn.Linear(joint_units, out_dim),
                                   *([out_activation()] if out_activation else [])))


def cgan_discriminator(x_dim: int, c_dim: int, x_units: int, c_units: int, joint_units: int,
                       dropout: float) -> _Branches:
    maxout = lambda i, o, k: [nn.Maxout(i, o, k), nn.Dropout(dropout)]
    return _Branches(nn.Sequential(*maxout(x_dim, x_units, 5)), nn.Sequential(*maxout(c_dim, c_units, 5)),
                     nn.Sequential(*maxout(x_units + c_units, joint_units, 4), nn.Linear(joint_units, 1)))


class CGAN(GANModel):
    """Mirza & Osindero's conditional GAN (images of digits or toy points given their label; or words)."""

    conditional = True
    loss_kind = "non-saturating"

    @classmethod
    def default_config(cls, data: str) -> dict:
        sizes = [200, 1000, 1200, 240, 50, 240] if data == "digits" else [50, 250, 300, 60, 12, 60]
        return {"lr": 0.1 if data == "digits" else 0.02, "batch_size": 100, "z_dim": 100, "sizes": sizes, "dropout": 0.5, "decay": 1.00004,
                "min_lr": 1e-6, "momentum": [0.5, 0.7], "momentum_steps": 250, "select_every": 500,
                "task": "images"}

    def __init__(self, data: str = "digits", lr: float = 0.1, batch_size: int = 100, z_dim: int = 100,
                 sizes=(200, 1000, 1200, 240, 50, 240), dropout: float = 0.5, decay: float = 1.00004,
                 min_lr: float = 1e-6, momentum=(0.5, 0.7), momentum_steps: int = 250, select_every: int = 500,
                 task: str = "images"):
        super().__init__(data, lr, batch_size, n_critic=1, loss="non-saturating")
        if task not in ("images", "words") or (task == "words" and data != "digits"):
            raise ValueError(f"CGAN: task must be 'images', or 'words' on digits; got {task!r} on {data!r}")
        self.task, self.z_dim, self.decay, self.min_lr = task, z_dim, decay, min_lr
        self.momentum, self.momentum_steps, self.select_every = tuple(momentum), momentum_steps, select_every
        self.n_classes = {"digits": 10, "ring8": 8, "grid25": 25}[data]
        gz, gc, gj, dx, dc, dj = sizes
        if task == "words":
            x_dim, c_dim, out_act = WORD_DIM, 64, None
            self.register_buffer("words", mg.tensor(word_vectors().reshape(-1, WORD_DIM)))
        else:
            x_dim, c_dim = int(np.prod(self.data_shape)), self.n_classes
            out_act = None if self.is_toy else nn.Sigmoid
        self.generator = cgan_generator(z_dim, c_dim, x_dim, gz, gc, gj, dropout, out_act)
        self.discriminator = cgan_discriminator(x_dim, c_dim, dx, dc, dj, dropout)
        self.selected = copy.deepcopy(self.generator).requires_grad_(False)
        self.register_buffer("best_valid_ll", mg.tensor(np.array(-np.inf)))

    # ----------------------------------------------------------------------------------- the model
    def noise(self, n: int, rng: np.random.Generator | None = None) -> mg.Tensor:
        """z ~ U[0, 1]^100, as in the paper."""
        if rng is None:
            return mg.rand(n, self.z_dim, device=self.device)
        return mg.tensor(rng.random((n, self.z_dim)).astype(np.float32), device=self.device)

    def condition(self, y: mg.Tensor) -> mg.Tensor:
        """One-hot labels (images), or the classifier features of conditioning images (words)."""
        return F.one_hot(y, self.n_classes).to(self.device) if self.task == "images" else y

    def generate(self, z, y=None, generator=None):
        out = self.from_model((generator or self.generator)(z, self.condition(y)))
        return out if self.task == "words" else out.reshape((z.shape[0],) + self.data_shape)

    def critic(self, x, y=None):
        return self.discriminator(self.to_model(x), self.condition(y)).reshape(x.shape[0])

    def sample(self, n: int, rng=None, **condition):
        """Samples from the selected generator (the best on validation Parzen likelihood so far)."""
        y = condition.get("y")
        if y is None:
            if self.task == "words":
                raise ValueError("CGAN(task='words').sample needs y= image features (N, 64)")
            y = self.sample_labels(n, rng)
        elif not isinstance(y, mg.Tensor):
            y = mg.tensor(np.asarray(y), device=self.device)
        was_training = self.training
        self.eval()
        with mg.no_grad():
            out = self.generate(self.noise(n, rng), y, generator=self._final_generator())
        self.train(was_training)
        return out

    def _final_generator(self) -> nn.Module:
        """The selected generator when model selection ran, else the current one."""
        return self.selected if self.select_every and np.isfinite(float(self.best_valid_ll.numpy())) \
            else self.generator

    def sample_labels(self, n: int, rng=None) -> mg.Tensor:
        rng = rng or mg.backend.rng("cpu")
        return mg.tensor(rng.integers(0, self.n_classes, n).astype(np.int64), device=self.device)

    # ------------------------------------------------------------------------------------ training
    def loader(self, split: str = "train", batch_size=None, seed: int = 0, shuffle: bool = True,
               drop_last: bool = True):
        if self.is_toy and split == "train":
            from minigen.data.toys import ToyStream

            return ToyStream(self.data_name, batch_size or self.batch_size, seed, labels=True)
        return super().loader(split, batch_size, seed, shuffle, drop_last)

    def configure_optimizers(self) -> list:
        m = self.momentum[0]
        return [optim.SGD(self.generator_parameters(), lr=self.lr, momentum=m),
                optim.SGD(self.discriminator_parameters(), lr=self.lr, momentum=m)]

    def schedule(self, optimizers, t: int) -> None:
        """lr_t = max(lr / decay^t, min_lr); momentum_t ramps linearly over momentum_steps (the paper's)."""
        lr = max(self.lr / self.decay ** t, self.min_lr)
        m0, m1 = self.momentum
        m = m0 + (m1 - m0) * min(t, self.momentum_steps) / self.momentum_steps
        for opt in optimizers:
            for group in opt.param_groups:
                group["lr"], group["momentum"] = lr, m

    def train_step(self, batch, optimizers) -> dict:
        if self.task == "words":
            batch = self.words_batch(batch)
        logs = super().train_step(batch, optimizers)
        if self.select_every and int(self.steps_done.numpy()) % self.select_every == 0:
            logs.update(self.select())
        return logs

    def words_batch(self, batch) -> tuple:
        """(images, labels) -> (a random name's vector per image, the image's classifier features)."""
        from ..evaluation import digits_classifier

        x, y = batch
        feats, _ = digits_classifier.features_and_probs(x.numpy())
        k = mg.backend.rng("cpu").integers(0, 3, len(y))
        vecs = self.words.numpy().reshape(10, 3, WORD_DIM)[y.numpy(), k]
        return mg.tensor(vecs, device=self.device), mg.tensor(feats.astype(np.float32), device=self.device)

    def select(self) -> dict:
        """Model selection: keep the generator whose validation score (Parzen ll / word accuracy) is best."""
        was_training = self.training
        self.eval()
        with mg.no_grad():
            score = self._validation_score()
        self.train(was_training)
        if score > float(self.best_valid_ll.numpy()):
            xp = mg.backend.array_module(self.best_valid_ll.data)
            self.best_valid_ll.data = xp.asarray(score, dtype=self.best_valid_ll.dtype)
            self.selected.load_state_dict(self.generator.state_dict())
        return {"valid_score": score}

    def _validation_score(self) -> float:
        """Word accuracy, or the Parzen log-likelihood of the validation split at its best width."""
        from ..evaluation import gan_metrics as gan_eval

        rng = np.random.default_rng(99)
        if self.task == "words":
            return self.word_scores("valid", rng, per_image=20, generator=self.generator)["word_acc"]
        n = 2000
        samples = self.generate(self.noise(n, rng), self.sample_labels(n, rng)).numpy()
        _, table = gan_eval.parzen_select(samples, self.split_arrays("valid")[0])
        return max(ll for _, ll in table)

    # ------------------------------------------------------------------------------------ metrics
    def word_scores(self, split: str, rng, per_image: int = 100, generator=None) -> dict:
        """word_acc: share of generated vectors whose nearest name (cosine) names the image's digit;
        word_names: mean share of the digit's three names reached among an image's `per_image` samples."""
        from ..evaluation import digits_classifier

        images, labels = self.split_arrays(split)
        feats, _ = digits_classifier.features_and_probs(images)
        c = np.repeat(feats.astype(np.float32), per_image, axis=0)
        z = self.noise(len(c), rng)
        gen = self.generate(z, mg.tensor(c, device=self.device), generator=generator or self._final_generator()).numpy()
        words = self.words.numpy()
        nearest = (gen / np.linalg.norm(gen, axis=1, keepdims=True).clip(1e-12)) @ words.T
        word = nearest.argmax(1).reshape(len(images), per_image)
        right = word // 3 == labels[:, None]
        names = [len(set(w[r] % 3)) / 3 for w, r in zip(word, right)]
        return {"word_acc": float(right.mean()), "word_names": float(np.mean(names))}

    def metrics(self, split: str = "test") -> dict:
        if self.task == "words":
            was_training = self.training
            self.eval()
            with mg.no_grad():
                out = self.word_scores(split, np.random.default_rng(0))
            self.train(was_training)
            return {**out, "word_acc_chance": 0.1}
        return super().metrics(split)

    def sample_figure(self, path: str, n: int = 64) -> None:
        """Words: eight test digits, each with the nearest names of 12 generated vectors; else the default."""
        if self.task != "words":
            return super().sample_figure(path, n)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ..evaluation import digits_classifier

        images, labels = self.split_arrays("test")
        feats, _ = digits_classifier.features_and_probs(images[:8])
        vocab = [w for names in NAMES for w in names]
        words = self.words.numpy()
        fig, axes = plt.subplots(1, 8, figsize=(12, 3.2))
        for i, ax in enumerate(axes):
            gen = self.sample(12, np.random.default_rng(i), y=np.repeat(feats[i:i + 1], 12, 0).astype(np.float32))
            nearest = (gen.numpy() @ words.T).argmax(1)
            ax.imshow(images[i, 0], cmap="gray_r", extent=(0, 8, 20, 28))
            ax.text(0, 18, "\n".join(vocab[k] for k in nearest), va="top", fontsize=8, family="monospace")
            ax.set(xlim=(0, 8), ylim=(-2, 28))
            ax.axis("off")
        fig.suptitle("cGAN: generated word vectors given image features (nearest name)")
        fig.savefig(path, dpi=80)
        plt.close(fig)
