"""Autoregressive models: p(x) = prod_d p(x_d | x_<d) (baselines, NADE/RNADE, MADE; PixelCNN, PixelRNN and WaveNet to come)."""
