"""torch.nn.utils's names: clip_grad_norm_ (minigen.optim.clip), spectral_norm and remove_spectral_norm."""
from ..optim.clip import clip_grad_norm_
from .spectral_norm import remove_spectral_norm, spectral_norm

__all__ = ["clip_grad_norm_", "spectral_norm", "remove_spectral_norm"]
