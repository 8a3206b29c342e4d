"""The conditional GAN's multimodal use (Mirza & Osindero, 2014, section 4.2): generate a tag for an image.

The paper conditions on an image's features (a convolutional network's) and generates word vectors
(skip-gram); several words fit one image, so p(word | image) is multimodal. Here the condition is an image's
64 features from the project's digits classifier (evaluation/digits_classifier.py) and the generated object a
64-dimensional word vector. Each digit has three names (English, German, Spanish) whose fixed vectors are
built honestly from hashed character n-grams (`word_vectors`: nothing is learnt, so spelling alone decides
which names lie close); a training target is one of the image's three names at random.

Networks, noise, schedule and model selection are the cGAN's (cgan.py) with the word vector in place of the
pixels and the features in place of the one-hot label; the output is linear (word vectors are unbounded, so
the schedule starts at lr 0.02, as on the toys). Model selection keeps the generator with the best word
accuracy on the validation split (20 samples per image), the paper's Parzen likelihood being meaningless for
nearest-word decisions.

    word_acc    the share of generated vectors whose nearest name (cosine) names the image's digit (chance 0.1)
    word_names  the mean share of its digit's three names reached among an image's 100 samples
"""
from __future__ import annotations

import zlib

import numpy as np

import minigen as mg
from minigen import backend
from minigen.autograd import Tensor

from ..evaluation import digits_classifier
from .cgan import CGAN

NAMES = (("zero", "null", "cero"), ("one", "eins", "uno"), ("two", "zwei", "dos"), ("three", "drei", "tres"),
         ("four", "vier", "cuatro"), ("five", "fuenf", "cinco"), ("six", "sechs", "seis"),
         ("seven", "sieben", "siete"), ("eight", "acht", "ocho"), ("nine", "neun", "nueve"))
WORD_DIM = 64
FEATURE_DIM = digits_classifier.SIZES[-2]


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


class CGANWords(CGAN):
    """cGAN generating a word vector (64) given an image's classifier features (64), on digits only."""

    datasets = ("digits",)
    event_shape = (WORD_DIM,)
    value_range = None

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {**CGAN.default_config(data), "lr": 0.02}

    def __init__(self, data: str = "digits", lr: float = 0.02, **options):
        super().__init__(data, lr, **options)
        self.register_buffer("words", mg.tensor(word_vectors().reshape(-1, WORD_DIM)))

    # ----------------------------------------------------------------------------------- the model
    @property
    def condition_dim(self) -> int:
        return FEATURE_DIM

    @property
    def out_activation(self):
        return None

    def condition(self, y: mg.Tensor) -> mg.Tensor:
        """The condition is already the networks' input: classifier features (n, 64)."""
        return y

    def features(self, images) -> mg.Tensor:
        """The digits classifier's features of images in [0, 1] (n, 1, 8, 8) or (n, 64), as a float32 Tensor."""
        feats, _ = digits_classifier.features_and_probs(images.numpy() if isinstance(images, Tensor) else images)
        return mg.tensor(feats.astype(np.float32), device=self.device)

    def conditioning_images(self, n: int, y, rng: np.random.Generator | None = None) -> np.ndarray:
        """y as n images (n, 1, 8, 8): images are checked and a single one repeated; integer digit labels
        each become a test image of that digit drawn from rng (so sample(n, labels) draws from
        p(word | digit) = E_{image of the digit} p(word | image))."""
        if y is None:
            raise TypeError(f"{self.name} is conditional: sample(n, y) needs y, the n conditioning images "
                            f"(n, 1, 8, 8) in [0, 1] or their digit labels")
        values = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
        if values.dtype.kind in "iu":
            labels = self.labels(n, values).numpy()
            images, image_labels = self.split_arrays("test")
            order = np.argsort(image_labels, kind="stable")
            counts = np.bincount(image_labels, minlength=self.num_classes)
            starts = np.cumsum(counts) - counts
            pick = (rng if rng is not None else backend.rng("cpu")).integers(0, counts[labels])
            return images[order[starts[labels] + pick]]
        if values.dtype.kind != "f" or values.size not in (FEATURE_DIM, n * FEATURE_DIM):
            raise TypeError(f"{self.name}.sample: y must be {n} images (n, 1, 8, 8) in [0, 1], one image, or "
                            f"integer digit labels; got dtype {values.dtype} and shape {values.shape}")
        return np.broadcast_to(values.reshape(-1, 1, 8, 8), (n, 1, 8, 8))

    def sample(self, n: int, y=None, *, rng: np.random.Generator | None = None) -> mg.Tensor:
        """n word vectors (n, 64) given conditioning images (or digit labels, see `conditioning_images`) from
        the selected generator; images, then z, from `rng` when given."""
        c = self.features(self.conditioning_images(n, y, rng))
        with self.evaluating():
            return self.generate(self.noise(n, rng), c, generator=self.final_generator())

    # ------------------------------------------------------------------------------------ training
    def words_batch(self, batch) -> tuple:
        """(images, labels) -> (one of the digit's three names per image at random, the image's features)."""
        x, y = batch
        c = self.features(x)
        k = backend.rng("cpu").integers(0, 3, len(y))
        vecs = self.words.numpy().reshape(10, 3, WORD_DIM)[y.numpy(), k]
        return mg.tensor(vecs, device=self.device), c

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        return super().train_step(self.words_batch(batch), optimizers, step)

    def validation_score(self) -> float:
        """word_acc on the validation split, 20 samples per image, of the current generator."""
        return self.word_scores("valid", np.random.default_rng(99), per_image=20,
                                generator=self.generator)["word_acc"]

    # ------------------------------------------------------------------------------------ metrics
    def word_scores(self, split: str, rng: np.random.Generator, per_image: int = 100, generator=None) -> dict:
        """word_acc and word_names (module docstring) of `per_image` samples for each image of a split."""
        images, labels = self.split_arrays(split)
        feats, _ = digits_classifier.features_and_probs(images)
        c = mg.tensor(np.repeat(feats.astype(np.float32), per_image, axis=0), device=self.device)
        gen = self.generate(self.noise(c.shape[0], rng), c, generator=generator or self.final_generator()).numpy()
        words = self.words.numpy()
        nearest = (gen / np.linalg.norm(gen, axis=1, keepdims=True).clip(1e-12)) @ words.T
        word = nearest.argmax(1).reshape(len(images), per_image)
        right = word // 3 == labels[:, None]
        names = [len(set(w[r] % 3)) / 3 for w, r in zip(word, right)]
        return {"word_acc": float(right.mean()), "word_names": float(np.mean(names))}

    def metrics(self, split: str = "test") -> dict:
        """word_acc, word_names (100 samples per image of the split, seed 0) and word_acc_chance = 0.1."""
        with self.evaluating():
            out = self.word_scores(split, np.random.default_rng(0))
        return {**out, "word_acc_chance": 0.1}

    def sample_figure(self, path: str, n: int = 64) -> str:
        """Eight test digits, each with the nearest names of 12 generated vectors (n is not used)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        images, _ = self.split_arrays("test")
        vocab = [w for names in NAMES for w in names]
        words = self.words.numpy()
        fig, axes = plt.subplots(1, 8, figsize=(12, 3.2))
        for i, ax in enumerate(axes):
            gen = self.sample(12, images[i:i + 1], rng=np.random.default_rng(i))
            nearest = (gen.numpy() @ words.T).argmax(1)
            ax.imshow(images[i, 0], cmap="gray_r", extent=(0, 8, 20, 28))
            ax.text(0, 18, "\n".join(vocab[k] for k in nearest), va="top", fontsize=8, family="monospace")
            ax.set(xlim=(0, 8), ylim=(-2, 28))
            ax.axis("off")
        fig.suptitle("cGAN: generated word vectors given image features (nearest name)")
        fig.savefig(path, dpi=80)
        plt.close(fig)
        return path
