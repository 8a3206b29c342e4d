"""Every registered model trained data-parallel for a few steps: does it run, and do the ranks agree?

    nice -n 10 python bench/distributed_models.py [--steps 2] [--processes 2]
        # writes bench/results/distributed_models.json: {name: "ok" | the error}

One `mpirun -n 2` whose ranks loop over `minigen.models.names()`, each model trained on its default data
and options with `Training(..., parallel=DataParallel())` for `steps` steps; the final checkpoint checks
that the parameters agree bit for bit on every rank (DataParallel.check_in_sync), so "ok" means ran and
stayed in sync. A batch size that does not divide by the number of processes is rounded up to a
multiple of it (recorded). Errors raised on every rank alike are recorded and the loop goes on.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results", "distributed_models.json")


def worker(steps: int, out: str, only: list | None) -> None:
    from threadpoolctl import threadpool_limits

    import minigen.models as models
    from minigen import trainer
    from minigen.distributed import DataParallel

    threadpool_limits(1)
    parallel = DataParallel("cpu", timeout=600)
    results = {}
    for name in only or models.names():
        start = time.perf_counter()
        try:
            cls = models.model_class(name)
            data = cls.default_data()
            model = models.create(name, data=data)
            batch = model.batch_size
            batch += -batch % parallel.world_size
            with tempfile.TemporaryDirectory() as folder:
                trainer.Training(model, steps, folder, batch_size=batch, seed=0, parallel=parallel,
                                 checkpoint_every=10**9).run(progress=False)
            results[name] = {"status": "ok", "data": data, "batch_size": batch}
        except Exception as e:  # noqa: BLE001 - recorded, and the next model runs
            results[name] = {"status": f"{type(e).__name__}: {' '.join(str(e).split())}"[:400]}
        results[name]["seconds"] = round(time.perf_counter() - start, 2)
        if parallel.is_root:
            print(name, json.dumps(results[name]), flush=True)
    if parallel.is_root:
        with open(out, "w") as f:
            json.dump({"processes": parallel.world_size, "steps": steps, "models": results}, f, indent=1)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--only", nargs="*", help="these registry names only")
    p.add_argument("--out", default=RESULTS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.steps, args.out, args.only)
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_mpi_yield_when_idle": "1"}
    command = ["mpirun", "-n", str(args.processes), "--oversubscribe", "--bind-to", "none", sys.executable,
               os.path.abspath(__file__), "--worker", "--steps", str(args.steps), "--out", args.out]
    if args.only:
        command += ["--only", *args.only]
    sys.exit(subprocess.call(command, env=env))


if __name__ == "__main__":
    main()
