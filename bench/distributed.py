"""Data-parallel training on the CPU: steps per second with 1 and 2 processes, and what travels per step.

    nice -n 10 python bench/distributed.py [--steps 40] [--warmup 5] [--rounds 3]
        # writes bench/results/distributed.json

For a VAE and a DCGAN (digits, the model's global batch of 64, split across the ranks) it runs
  1          one process, no MPI (the baseline)
  2          `mpirun -n 2 ... --distributed`: gradients in 25 MiB buckets (one message per backward here)
  2-unbucketed   the same with one message per parameter tensor (bucket_bytes=0)
  2-sync-bn  (dcgan) BatchNorm synchronised: two all-reduces of the sums per BatchNorm layer and forward,
             their two in backward, and one of the counts
and records steps/s (timed between the starts of train_step after `warmup` steps, inside the ranks, so
mpirun's start is not counted; the configurations run in turn, `rounds` times, and the best round is
the number, all rounds beside it) and, per step and rank, the messages and payload bytes of each kind
(gradients, logs, batchnorm; a ring all-reduce moves about twice the payload through each rank).
The same global batch means 2 processes do the same work per step as 1: this is strong scaling, and on
a 2-core machine shared with other jobs it is bounded by the cores that are free (the result says the
load average during the run).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results", "distributed.json")
MODELS = ("vae", "dcgan")


def worker(name: str, bucket_bytes: int, sync: bool, steps: int, warmup: int, distributed: bool) -> None:
    """One run (one rank of it): prints the measurement as JSON on rank 0."""
    from threadpoolctl import threadpool_limits

    import minigen.models as models
    from minigen import trainer

    threadpool_limits(1)
    parallel = None
    if distributed:
        from minigen.distributed import DataParallel

        parallel = DataParallel("cpu", sync_batchnorm=sync, bucket_bytes=bucket_bytes)
    model = models.create(name, data="digits")
    starts: list = []
    inner = model.train_step

    def timed_step(batch, optimizers, step):
        starts.append(time.perf_counter())
        if parallel is not None and len(starts) == warmup + 1:
            parallel.comm.stats.reset()
        return inner(batch, optimizers, step)

    model.train_step = timed_step
    with tempfile.TemporaryDirectory() as out:
        training = trainer.Training(model, warmup + steps + 1, out, seed=0, parallel=parallel,
                                    checkpoint_every=10**9)
        stats = None
        if parallel is not None:
            original = parallel.before_checkpoint

            def freeze(model_, step_):
                nonlocal stats
                stats = (dict(parallel.comm.stats.messages), dict(parallel.comm.stats.bytes))
                original(model_, step_)
            parallel.before_checkpoint = freeze
        training.run(progress=False)
    if parallel is not None and not parallel.is_root:
        return
    seconds = starts[-1] - starts[warmup]
    record = {"processes": parallel.world_size if parallel else 1, "steps": steps,
              "steps_per_second": steps / seconds, "batch_size_global": model.batch_size}
    if stats is not None:
        messages, nbytes = stats
        # counted from the start of step `warmup` to the end of the last one: steps + 1 steps
        record["messages_per_step"] = {k: v / (steps + 1) for k, v in messages.items()}
        record["bytes_per_step"] = {k: v / (steps + 1) for k, v in nbytes.items()}
        record["bucket_bytes"] = bucket_bytes
        record["sync_batchnorm"] = sync
    print("RESULT " + json.dumps(record), flush=True)


def _launch(name: str, processes: int, bucket_bytes: int, sync: bool, steps: int, warmup: int) -> dict:
    args = [os.path.abspath(__file__), "--worker", name, "--bucket-bytes", str(bucket_bytes),
            "--steps", str(steps), "--warmup", str(warmup)] + (["--sync-batchnorm"] if sync else [])
    if processes == 1:
        command = [sys.executable, *args]
    else:
        command = ["mpirun", "-n", str(processes), "--oversubscribe", "--bind-to", "none", sys.executable, *args,
                   "--distributed"]
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_mpi_yield_when_idle": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--bucket-bytes", type=int, default=25 * 2**20, help=argparse.SUPPRESS)
    p.add_argument("--sync-batchnorm", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--distributed", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", default=RESULTS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.bucket_bytes, args.sync_batchnorm, args.steps, args.warmup,
                      args.distributed)
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from zoo import machine

    runs: dict = {}
    load_before = os.getloadavg()
    configs = {name: {"1": (1, 25 * 2**20, False), "2": (2, 25 * 2**20, False), "2-unbucketed": (2, 0, False)}
               for name in MODELS}
    configs["dcgan"]["2-sync-bn"] = (2, 25 * 2**20, True)
    for _ in range(args.rounds):
        for name, model_configs in configs.items():
            for key, (processes, bucket, sync) in model_configs.items():
                record = _launch(name, processes, bucket, sync, args.steps, args.warmup)
                print(name, key, json.dumps(record), flush=True)
                best = runs.setdefault(name, {}).setdefault(key, record)
                best.setdefault("steps_per_second_rounds", []).append(record["steps_per_second"])
                best["steps_per_second"] = max(best["steps_per_second_rounds"])
    for name in runs:
        runs[name]["speedup_2_over_1"] = runs[name]["2"]["steps_per_second"] / runs[name]["1"]["steps_per_second"]
    import minigen
    import numpy as np
    from mpi4py import MPI

    result = {"machine": machine(), "platform": platform.platform(),
              "versions": {"minigen": minigen.__version__, "numpy": np.__version__,
                           "mpi": MPI.Get_library_version().splitlines()[0]},
              "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
              "note": "one BLAS thread per process; the machine was shared (other jobs running, this one niced), "
                      "so steps/s and speedups are rough; message and byte counts are exact",
              "command": "nice -n 10 python bench/distributed.py " + " ".join(argv or sys.argv[1:]),
              "runs": runs}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
