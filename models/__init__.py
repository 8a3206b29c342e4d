"""The model registry: registry name -> (module in minigen.models, class), read by the `minigen` CLI.

    import minigen.models
    model = minigen.models.create("nade", data="digits", hidden=100)

Modules are imported only when their model is created, so `minigen list` stays fast.
"""
from __future__ import annotations

import importlib

REGISTRY: dict[str, tuple[str, str]] = {
    "bernoulli": ("baselines", "IndependentBernoulli"),
    "ar1": ("baselines", "MarkovChain"),
    "fvsbn": ("baselines", "FVSBN"),
    "nade": ("nade", "NADE"),
    "rnade": ("nade", "RNADE"),
    "made": ("made", "MADE"),
    "gan": ("gan", "GAN"),
    "cgan": ("cgan", "CGAN"),
    "dcgan": ("dcgan", "DCGAN"),
    "infogan": ("infogan", "InfoGAN"),
    "wgan": ("wgan", "WGAN"),
    "wgan-gp": ("wgan", "WGANGP"),
    "sngan": ("sngan", "SNGAN"),
    "ae": ("autoencoder", "Autoencoder"),
    "vae": ("vae", "VAE"),
    "cvae": ("vae", "ConditionalVAE"),
    "beta-vae": ("vae", "BetaVAE"),
    "iwae": ("iwae", "IWAE"),
    "iwae-k50": ("iwae", "IWAE50"),
    "gumbel-vae": ("discrete_vae", "GumbelVAE"),
    "ladder-vae": ("ladder_vae", "LadderVAE"),
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


def create(name: str, data: str = "digits", **overrides):
    """A model with its default configuration for `data`, updated by `overrides`."""
    cls = model_class(name)
    config = dict(cls.default_config(data))
    unknown = set(overrides) - set(config)
    if unknown:
        raise TypeError(f"{name}: unknown option(s) {sorted(unknown)}; options are {sorted(config)}")
    config.update(overrides)
    model = cls(data=data, **config)
    model.registry_name = name
    return model
