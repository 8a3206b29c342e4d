"""The model registry: registry name -> (module in minigen.models, class), read by the `minigen` CLI.

models/ is grouped by the course's families (autoregressive/, latent/, flows/, gan/, energy/), with the
protocol in base.py, shared networks in nets.py and metrics in evaluation/ (docs/design.md, "Models").

    import minigen.models
    model = minigen.models.create("autoregressive.nade", data="digits", hidden=100)

Modules are imported only when their model is created, so `minigen list` stays fast.
"""
from __future__ import annotations

import importlib

REGISTRY: dict[str, tuple[str, str]] = {
    "bernoulli": ("autoregressive.baselines", "IndependentBernoulli"),
    "ar1": ("autoregressive.baselines", "MarkovChain"),
    "fvsbn": ("autoregressive.baselines", "FVSBN"),
    "nade": ("autoregressive.nade", "NADE"),
    "rnade": ("autoregressive.nade", "RNADE"),
    "made": ("autoregressive.made", "MADE"),
    "wavenet": ("autoregressive.wavenet", "WaveNet"),
    "pixelcnn": ("autoregressive.pixelcnn", "PixelCNN"),
    "gated-pixelcnn": ("autoregressive.gated_pixelcnn", "GatedPixelCNN"),
    "pixelcnn-pp": ("autoregressive.pixelcnn_pp", "PixelCNNPlusPlus"),
    "pixelrnn-row": ("autoregressive.pixelrnn", "RowLSTM"),
    "pixelrnn-diag": ("autoregressive.pixelrnn", "DiagonalBiLSTM"),
    "gan": ("gan.gan", "GAN"),
    "cgan": ("gan.cgan", "CGAN"),
    "cgan-words": ("gan.cgan_words", "CGANWords"),
    "dcgan": ("gan.dcgan", "DCGAN"),
    "infogan": ("gan.infogan", "InfoGAN"),
    "wgan": ("gan.wgan", "WGAN"),
    "wgan-gp": ("gan.wgan", "WGANGP"),
    "sngan": ("gan.sngan", "SNGAN"),
    "wavegan": ("gan.wavegan", "WaveGAN"),
    "pix2pix": ("gan.pix2pix", "Pix2Pix"),
    "cyclegan": ("gan.cyclegan", "CycleGAN"),
    "stargan": ("gan.stargan", "StarGAN"),
    "progan": ("gan.progan", "ProGAN"),
    "gan-cls": ("gan.gan_cls", "GANCLS"),
    "puzzle-gan": ("gan.puzzle_gan", "PuzzleGAN"),
    "ae": ("latent.autoencoder", "Autoencoder"),
    "vae": ("latent.vae", "VAE"),
    "cvae": ("latent.vae", "ConditionalVAE"),
    "beta-vae": ("latent.vae", "BetaVAE"),
    "iwae": ("latent.iwae", "IWAE"),
    "iwae-k50": ("latent.iwae", "IWAE50"),
    "gumbel-vae": ("latent.discrete_vae", "GumbelVAE"),
    "ladder-vae": ("latent.ladder_vae", "LadderVAE"),
    "rbm": ("energy.rbm", "RBM"),
    "ebm": ("energy.ebm", "EBM"),
    "nice": ("flows.nice", "NICE"),
    "realnvp": ("flows.realnvp", "RealNVP"),
    "maf": ("flows.maf", "MAF"),
    "glow": ("flows.glow", "Glow"),
    "iaf-vae": ("flows.iaf_vae", "IAFVAE"),
    "planar-vae": ("flows.planar_vae", "PlanarVAE"),
    "vade": ("latent.vade", "VaDE"),
    "aae": ("latent.aae", "AdversarialAutoencoder"),
    "prior-elbo-vae": ("latent.prior_elbo", "PriorELBOVAE"),
    "factor-vae": ("latent.factor_vae", "FactorVAE"),
}


def names() -> list[str]:
    """Every registered model name."""
    return sorted(REGISTRY)


def model_class(name: str):
    """The class registered under `name` (a clear KeyError listing the known names otherwise)."""
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(names())}")
    module, cls = REGISTRY[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def create(name: str, data: str | None = None, **overrides):
    """A model with its default configuration for `data` (None: the model's `default_data()`: digits, or its
    first data set when it does not train on digits), updated by `overrides`."""
    cls = model_class(name)
    if data is None:
        data = cls.default_data()
    config = dict(cls.default_config(data))
    unknown = set(overrides) - set(config)
    if unknown:
        raise TypeError(f"{name}: unknown option(s) {sorted(unknown)}; options are {sorted(config)}")
    config.update(overrides)
    model = cls(data=data, **config)
    model.registry_name = name
    return model
