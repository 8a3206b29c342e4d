from setuptools import setup

# models/'s subpackages: one per family of the course, and the shared evaluation
MODEL_PACKAGES = ("autoregressive", "latent", "flows", "gan", "energy", "evaluation")

setup(
    name="minigen",
    version="0.1.0",
    description="A small, readable reverse-mode autodiff engine on NumPy/CuPy with classic generative models",
    python_requires=">=3.11",
    packages=["minigen", "minigen.ops", "minigen.nn", "minigen.optim", "minigen.data", "minigen.testing",
              "minigen.utils", "minigen.distributed",
              "minigen.distributions", "minigen.kernels", "minigen.models",
              *(f"minigen.models.{family}" for family in MODEL_PACKAGES)],
    package_dir={"minigen": "minigen", "minigen.kernels": "kernels", "minigen.models": "models"},
    package_data={"minigen.kernels": ["*.cu"], "minigen.models.evaluation": ["*.npz"]},
    # threadpoolctl: the CLI pins the BLAS thread count (minigen train --threads)
    install_requires=["numpy>=2", "threadpoolctl>=3"],
    extras_require={
        # CuPy (no GPU needed) lets the tests compile the kernels through NVRTC and hold the fake CuPy that
        # runs the gpu tests on the CPU (tests/fake_cupy.py) to CuPy's real names and signatures
        "test": ["pytest>=8", "hypothesis>=6", "ruff>=0.6", "cupy-cuda12x>=13; platform_system == 'Linux'",
                 "nvidia-cuda-nvrtc-cu12; platform_system == 'Linux'"],
        "data": ["scikit-learn>=1.3"],
        "viz": ["Pillow>=10", "matplotlib>=3.8", "tqdm>=4.66"],
        # the GPU machines run CUDA 13: CuPy's CUDA 13 wheel with the toolkit pieces it needs from PyPI
        # ([ctk]); with CUDA 12 instead, install cupy-cuda12x by hand
        "gpu": ["cupy-cuda13x[ctk]>=14"],
        "tensorboard": ["tensorboardX>=2.6"],
        # `mpirun -n R minigen train NAME --distributed` (needs an MPI library: apt-get install openmpi-bin
        # libopenmpi-dev); NCCL on GPUs comes with CuPy (the gpu extra) and nvidia-nccl-cu12
        "distributed": ["mpi4py>=3.1"],
        "bench": ["torch", "scipy"],
    },
    entry_points={"console_scripts": ["minigen=minigen.cli:main"]},
)
