"""Data: the bundled digits, local IDX/npz files, 2-D toys with mode coverage, generated audio, and a
resumable DataLoader."""
from .audio import WAVE_KINDS, mu_law_decode, mu_law_encode, waveforms
from .digits import Digits, load_digits, split_indices
from .idx import load_idx, load_mnist, load_npz, save_idx
from .loader import ArrayDataset, DataLoader
from .toys import (TOYS, ModeCoverage, ToyStream, grid25, grid25_centres, mode_coverage, nearest_mode, ring8,
                   ring8_centres, swiss_roll, toy_centres, toy_coverage, toy_sample, two_moons)

__all__ = ["Digits", "load_digits", "split_indices", "load_idx", "save_idx", "load_npz", "load_mnist",
           "ArrayDataset", "DataLoader", "ring8", "ring8_centres", "grid25", "grid25_centres", "two_moons",
           "swiss_roll", "mode_coverage", "ModeCoverage", "TOYS", "ToyStream", "toy_sample", "toy_centres",
           "nearest_mode", "toy_coverage", "waveforms", "WAVE_KINDS", "mu_law_encode",
           "mu_law_decode"]
