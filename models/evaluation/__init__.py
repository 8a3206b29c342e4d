"""How models are measured beyond likelihoods: Parzen windows, Frechet distance and classifier score on the digits classifier's features, mode coverage."""
