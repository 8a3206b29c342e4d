"""minigen beside the engines its users would otherwise pick, on the same workloads, in one run.

    python bench/peers.py --legacy-python /path/to/legacy/bin/python    # all six contenders
    python bench/peers.py                     # minigen, PyTorch, MyGrad, NumPy (prints the legacy recipe)
    python bench/peers.py --quick             # fewer rounds and shorter blocks (a smoke run)

Contenders: minigen, PyTorch (CPU), MyGrad, DeZero and Chainer (these two need NumPy < 1.24, so they run
in a worker process under a second virtual environment's python, --legacy-python), and hand-written
NumPy for (a) and (b) as the floor. The workloads are bench/peers_workloads.py's (a)-(e), the engines
bench/peers_engines.py's. Before timing, every contender's loss and gradients after one step are checked
against minigen's (so the timings compare the same computation). Then `--rounds` rounds: in each, every
workload is run by every contender (in an order rotated from round to round) for one block of calls
sized to about `--block` seconds; a contender's time is the median over rounds of its seconds per call.
The BLAS pools (threadpoolctl), PyTorch and the worker run `--threads` threads (1 by default: the engines
are compared, not thread pools), recorded with the versions in bench/results/peers-<machine>.json. The
clock is the process's CPU time when single-threaded (what the process did, whatever else the machine
runs), wall time otherwise.
"""
from __future__ import annotations

import os
import sys


def _threads(argv) -> int:
    return int(argv[argv.index("--threads") + 1]) if "--threads" in argv else 1


# Fix the thread pools before NumPy loads its BLAS (threadpoolctl below pins them again and records them)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(_threads(sys.argv))

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from peers_engines import ENGINES, LEGACY, available  # noqa: E402
from peers_workloads import WORKLOADS, mlp_numpy  # noqa: E402

LEGACY_RECIPE = """DeZero and Chainer need NumPy < 1.24 (np.int, np.bool): make a second virtual environment
    python -m venv /path/to/legacy
    /path/to/legacy/bin/pip install 'numpy<1.24' 'matplotlib<3.9' 'setuptools<70' wheel threadpoolctl dezero
    /path/to/legacy/bin/pip install --no-build-isolation chainer
and pass --legacy-python /path/to/legacy/bin/python. (Chainer 7.8.1 is an sdist whose setup.py imports
pkg_resources, which an isolated build's new setuptools lacks; DeZero imports matplotlib.)"""
FLOOR = {"graph10", "mlp"}  # the workloads with a hand-written NumPy version
ORDER = ["minigen", "torch", "mygrad", "dezero", "chainer", "numpy"]


def pin_threads(n: int) -> list:
    """Limit every BLAS/OpenMP pool to n threads (and PyTorch's when loaded); their description."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return [{"threadpoolctl": "missing; OMP/OPENBLAS/MKL_NUM_THREADS=%d" % n}]
    threadpool_limits(limits=n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    return [{k: p.get(k) for k in ("internal_api", "num_threads", "version")} for p in threadpool_info()]


def clock(threads: int):
    return time.process_time if threads == 1 else time.perf_counter


# -------------------------------------------------------------------------------------- contenders

class Local:
    """An engine (or the NumPy floor) in this process."""

    def __init__(self, name: str, arrays: dict, threads: int):
        self.name, self.arrays, self.clock = name, arrays, clock(threads)
        self.engine = None if name == "numpy" else ENGINES[name]()
        self.states = {}

    def version(self) -> str:
        return np.__version__ if self.engine is None else self.engine.version()

    def _fresh(self, workload: str):
        if self.engine is None:
            a = {k: v.copy() for k, v in self.arrays[workload].items()}
            if workload == "graph10":
                from overhead import elementwise_numpy
                return lambda: elementwise_numpy(a["x"], a["y"])
            params = [a[f"{k}{i}"] for i in range(3) for k in "wb"]
            return lambda: mlp_numpy(a["x"], a["labels"], params)
        w, e = WORKLOADS[workload], self.engine
        state = w.build(e, self.arrays[workload])
        return lambda: (w.step(e, state), state)

    def check(self, workload: str) -> dict:
        """The loss and the parameters' gradients after one step from the initial arrays."""
        out = self._fresh(workload)()
        if self.engine is None:
            if workload == "graph10":
                return {"grad0": out[0], "grad1": out[1]}
            return {"loss": np.asarray(out[0]), **{f"grad{i}": g for i, g in enumerate(out[1])}}
        loss, state = out
        grads = {f"grad{i}": self.engine.grad(p) for i, p in enumerate(state["params"])}
        return {"loss": self.engine.value(loss), **grads} if workload != "graph10" else grads

    def seconds(self, workload: str, calls: int) -> float:
        if workload not in self.states:
            self.states[workload] = self._fresh(workload)
        step = self.states[workload]
        t0 = self.clock()
        for _ in range(calls):
            step()
        return (self.clock() - t0) / calls


class Remote:
    """An engine in the legacy worker (JSON lines over its stdin/stdout, arrays through .npz files)."""

    def __init__(self, name: str, worker: "Worker"):
        self.name, self.worker = name, worker

    def version(self) -> str:
        return self.worker.versions[self.name]

    def check(self, workload: str) -> dict:
        path = os.path.join(self.worker.tmp, f"check-{self.name}-{workload}.npz")
        self.worker.ask(cmd="check", engine=self.name, workload=workload, out=path)
        with np.load(path) as f:
            return dict(f)

    def seconds(self, workload: str, calls: int) -> float:
        return self.worker.ask(cmd="time", engine=self.name, workload=workload, calls=calls)["seconds"]


class Worker:
    """bench/peers.py --worker running under the legacy python."""

    def __init__(self, python: str, npz: str, engines, threads: int, tmp: str):
        self.tmp = tmp
        self.proc = subprocess.Popen([python, os.path.abspath(__file__), "--worker", "--threads", str(threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        info = self.ask(cmd="load", npz=npz, engines=list(engines), threads=threads)
        self.versions, self.info = info["versions"], info["info"]

    def ask(self, **message) -> dict:
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the legacy worker exited (status {self.proc.wait()}) on {message}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"legacy worker: {reply['error']} (on {message})")
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def serve(threads: int) -> None:
    """The worker's loop: load, then answer check/time requests until stdin closes."""
    out, sys.stdout = sys.stdout, sys.stderr  # engines' chatter must not reach the protocol
    contenders = {}
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            if msg["cmd"] == "load":
                arrays = load_arrays(msg["npz"])
                contenders = {n: Local(n, arrays, threads) for n in msg["engines"]}
                reply = {"versions": {n: c.version() for n, c in contenders.items()},
                         "info": {"numpy": np.__version__, "python": sys.version.split()[0],
                                  "threadpools": pin_threads(threads)}}
            elif msg["cmd"] == "check":
                np.savez(msg["out"], **contenders[msg["engine"]].check(msg["workload"]))
                reply = {}
            else:
                reply = {"seconds": contenders[msg["engine"]].seconds(msg["workload"], msg["calls"])}
        except Exception as e:  # reported to the main process, which raises it with the request
            reply = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


# --------------------------------------------------------------------------------------- the inputs

def make_arrays(seed: int = 0) -> dict:
    """{workload: {name: array}}: the digits batch (minigen's loader) and seeded initial parameters."""
    from minigen.data.digits import load_digits
    d = load_digits("train", binarize="static")
    digits = {"images": d.images.astype(np.float32), "labels": d.labels.astype(np.int64)}
    rng = np.random.default_rng(seed)
    return {name: w.arrays(rng, digits) for name, w in WORKLOADS.items()}


def save_arrays(arrays: dict, path: str) -> None:
    np.savez(path, **{f"{w}/{k}": v for w, a in arrays.items() for k, v in a.items()})


def load_arrays(path: str) -> dict:
    out: dict = {}
    with np.load(path) as f:
        for key in f.files:
            w, k = key.split("/", 1)
            out.setdefault(w, {})[k] = f[key]
    return out


# ------------------------------------------------------------------------------------------ running

def check_agreement(contenders: dict, workloads, rtol: float = 2e-3) -> dict:
    """Every contender's loss and gradients against minigen's: the largest error relative to each array's
    largest magnitude, per workload; raises when one is above rtol."""
    errors = {}
    for w in workloads:
        ref = contenders["minigen"].check(w)
        for name, c in contenders.items():
            if name == "minigen" or (name == "numpy" and w not in FLOOR):
                continue
            got = c.check(w)
            worst = 0.0
            for key, r in ref.items():
                g = np.asarray(got[key], np.float64).reshape(np.shape(r))
                worst = max(worst, float(np.abs(g - r).max() / max(np.abs(r).max(), 1e-6)))
            errors.setdefault(w, {})[name] = worst
            if worst > rtol:
                raise AssertionError(f"{name} disagrees with minigen on {w}: relative error {worst:.2e}")
    return errors


def measure(contenders: dict, workloads, rounds: int, block: float) -> dict:
    """{workload: {contender: [seconds per call, one per round]}}, interleaved; blocks of ~`block` s."""
    plan = {}
    for w in workloads:
        for name, c in contenders.items():
            if name == "numpy" and w not in FLOOR:
                continue
            once = max(c.seconds(w, 2), 1e-6)  # warm up and size the block
            plan[(w, name)] = max(1, round(block / once))
    samples: dict = {}
    for r in range(rounds):
        for w in workloads:
            names = [n for n in contenders if (w, n) in plan]
            names = names[r % len(names):] + names[:r % len(names)]
            for n in names:
                samples.setdefault(w, {}).setdefault(n, []).append(contenders[n].seconds(w, plan[(w, n)]))
    return samples


def summarize(samples: dict) -> dict:
    """Median ms per call and minigen's time over each contender's (minigen / them)."""
    out = {}
    for w, per in samples.items():
        ms = {n: statistics.median(s) * 1e3 for n, s in per.items()}
        out[w] = {"title": WORKLOADS[w].title, "ms": ms, "rounds": len(per["minigen"]),
                  "minigen_over": {n: ms["minigen"] / t for n, t in ms.items() if n != "minigen"}}
    return out


def targets(results: dict) -> dict:
    """The issue's targets, from this run's ratios; a target needing a missing contender is not judged."""
    out = {}

    def judge(name, value, limit, strict=False):
        if value is not None:
            out[name] = {"value": value, "target": limit, "met": value < limit if strict else value <= limit}

    def ratio(w, n):
        return results.get(w, {}).get("minigen_over", {}).get(n)

    peers = [r for r in (ratio("graph10", n) for n in ("mygrad", "dezero", "chainer")) if r is not None]
    if peers:  # minigen / best = the largest of minigen's ratios to them
        judge("graph10 minigen/best(mygrad, dezero, chainer)", max(peers), 0.8)
    judge("graph10 minigen/torch", ratio("graph10", "torch"), 1.0, strict=True)
    judge("mlp minigen/numpy", ratio("mlp", "numpy"), 1.3)
    for w in ("vae", "gan", "pixelcnn"):
        for n in ("mygrad", "dezero", "chainer"):
            judge(f"{w} minigen/{n}", ratio(w, n), 1.0, strict=True)
        judge(f"{w} minigen/torch", ratio(w, "torch"), 1.5)
    return out


def table(results: dict, tgt: dict) -> str:
    names = [n for n in ORDER if any(n in r["ms"] for r in results.values())]
    head = f"{'workload (ms per step, median)':<34}" + "".join(f"{n:>9}" for n in names)
    lines = [head, "-" * len(head)]
    for r in results.values():
        lines.append(f"{r['title']:<34}" + "".join(f"{r['ms'][n]:>9.3f}" if n in r["ms"] else f"{'-':>9}"
                                                   for n in names))
        lines.append(f"{'  minigen / them':<34}" + "".join(
            f"{r['minigen_over'][n]:>9.2f}" if n in r["minigen_over"] else f"{'':>9}" for n in names))
    lines.append("")
    for name, t in tgt.items():
        lines.append(f"target {name}: {t['value']:.2f} (target {'<' if t['target'] == 1.0 else '<='} "
                     f"{t['target']}) {'met' if t['met'] else 'MISSED'}")
    return "\n".join(lines)


def machine() -> dict:
    info = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": sys.version.split()[0]}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or platform.machine()
    return info


def machine_slug(info: dict) -> str:
    """'2cpu-amd-epyc': the <machine> of peers-<machine>.json."""
    return f"{info['cpu_count']}cpu-" + re.sub(r"[^a-z0-9]+", "-", info["cpu"].lower()).strip("-")[:40]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--legacy-python", help="python of a virtual environment with NumPy < 1.24, DeZero, Chainer")
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/PyTorch threads (default 1)")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--block", type=float, default=0.05, help="seconds per timed block (default 0.05)")
    p.add_argument("--only", nargs="+", choices=list(WORKLOADS), help="these workloads only")
    p.add_argument("--engines", nargs="+", choices=ORDER, help="these contenders only (minigen always runs)")
    p.add_argument("--quick", action="store_true", help="3 rounds of 0.01 s blocks (a smoke run)")
    p.add_argument("--out", help="the JSON to write (default bench/results/peers-<machine>.json)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return serve(args.threads)
    if args.quick:
        args.rounds, args.block = 3, 0.01
    from overhead import _git_commit
    info = {"machine": machine(), "commit": _git_commit(),
            "started_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "load_average_at_start": os.getloadavg(), "threads": args.threads, "rounds": args.rounds,
            "block_s": args.block, "clock": "process_time" if args.threads == 1 else "perf_counter",
            "statistic": "median"}
    wanted = set(args.engines or ORDER) | {"minigen"}
    workloads = args.only or list(WORKLOADS)
    arrays = make_arrays()
    local = [n for n in ORDER if n in wanted and n not in LEGACY and (n == "numpy" or available(n))]
    contenders = {n: Local(n, arrays, args.threads) for n in local}
    info["threadpools"] = pin_threads(args.threads)
    skipped = {n: "not importable" for n in ORDER if n in wanted and n not in LEGACY and n not in local}
    worker = None
    with tempfile.TemporaryDirectory() as tmp:
        legacy = [n for n in LEGACY if n in wanted]
        if legacy and args.legacy_python:
            save_arrays(arrays, os.path.join(tmp, "arrays.npz"))
            worker = Worker(args.legacy_python, os.path.join(tmp, "arrays.npz"), legacy, args.threads, tmp)
            contenders.update({n: Remote(n, worker) for n in legacy})
            info["legacy"] = {"python": args.legacy_python, **worker.info}
        elif legacy:
            skipped.update({n: "no --legacy-python" for n in legacy})
            print(LEGACY_RECIPE + "\n")
        try:
            info["versions"] = {n: c.version() for n, c in contenders.items()}
            info["agreement_max_rel_error"] = check_agreement(contenders, workloads)
            results = summarize(measure(contenders, workloads, args.rounds, args.block))
        finally:
            if worker is not None:
                worker.close()
    tgt = targets(results)
    info["load_average_at_end"] = os.getloadavg()  # (1, 5, 15 minutes): how busy the machine was
    report = {**info, "skipped": skipped, "workloads": results, "targets": tgt}
    print(table(results, tgt))
    print(f"commit {info['commit']}; load average at start {info['load_average_at_start'][0]:.1f}, "
          f"at end {info['load_average_at_end'][0]:.1f} (1 min)")
    if skipped:
        print("skipped: " + ", ".join(f"{n} ({why})" for n, why in skipped.items()))
    out = args.out or os.path.join(HERE, "results", f"peers-{machine_slug(info['machine'])}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
