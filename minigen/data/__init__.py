"""Data: the bundled digits, the digits drawn in several domains (digit_domains), local IDX/npz files, 2-D toys with mode coverage, generated audio (the tones
data set), shapes with known factors (a small dSprites), and a resumable DataLoader."""
from . import digit_domains
from .audio import (WAVE_KINDS, load_wav, log_spectrogram, mu_law_compress, mu_law_decode, mu_law_encode,
                    mu_law_expand, save_wav, waveforms)
from .digits import Digits, load_digits, split_indices
from .idx import load_idx, load_mnist, load_npz, save_idx
from .loader import ArrayDataset, DataLoader
from .shapes import Shapes, load_shapes
from .tones import TONE_CLASSES, ToneWindows, Tones, load_tones, tone_clip
from .toys import (TOYS, ModeCoverage, ToyStream, grid25, grid25_centres, mode_coverage, nearest_mode, ring8,
                   ring8_centres, swiss_roll, toy_centres, toy_coverage, toy_sample, two_moons)

__all__ = ["Digits", "load_digits", "split_indices", "load_idx", "save_idx", "load_npz", "load_mnist",
           "ArrayDataset", "DataLoader", "ring8", "ring8_centres", "grid25", "grid25_centres", "two_moons",
           "swiss_roll", "mode_coverage", "ModeCoverage", "TOYS", "ToyStream", "toy_sample", "toy_centres",
           "nearest_mode", "toy_coverage", "waveforms", "WAVE_KINDS", "mu_law_encode", "mu_law_decode",
           "mu_law_compress", "mu_law_expand", "save_wav", "load_wav", "log_spectrogram", "TONE_CLASSES", "Tones", "load_tones",
           "tone_clip", "ToneWindows", "digit_domains", "Shapes", "load_shapes"]
