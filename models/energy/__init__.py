"""Energy-based models: p(x) = exp(-E(x)) / Z (to come: RBM with CD-k/PCD/AIS, deep EBM with Langevin sampling)."""
