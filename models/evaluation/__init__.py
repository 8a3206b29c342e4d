"""How models are measured beyond likelihoods: Parzen windows (parzen.py), the Frechet distance (frechet.py)
and the classifier score (classifier_score.py) on the digits classifier's features (digits_classifier.py),
mode coverage on the 2-D toys (mode_coverage.py); gan_metrics.py is the GANs' protocol, evaluate(model, split).
"""
