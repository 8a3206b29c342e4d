"""Generative adversarial networks: a generator and a discriminator trained against each other (base.py, losses.py,
one file per GAN; cgan_words.py is the conditional GAN's image-to-word task)."""
