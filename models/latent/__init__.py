"""Latent-variable models: p(x) = int p(x|z) p(z) dz, trained on a bound (AE, the VAE family, IWAE, discrete and ladder VAEs)."""
