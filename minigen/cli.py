"""The `minigen` command: list, info, train, eval, sample, gradcheck, bench.

    minigen train nade --data digits --steps 2000 --out runs/nade
    minigen eval nade --from runs/nade          # the metrics as JSON on the last line

Bad names, missing files and bad flags print one line `minigen: error: ...` and exit with status 2
(set MINIGEN_DEBUG=1 for the traceback); Ctrl-C during training saves a checkpoint and exits with 130.
The run-folder rules (refusals, --resume, --overwrite) are in minigen/run_folder.py, the options and
their types in minigen/model_options.py. This is the one place in minigen/ that reads the model registry
(minigen.models), and only when a command needs it.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import subprocess
import sys

from . import __version__, backend, run_folder, trainer
from .model_options import OptionError, about_overrides, info_text, list_text, parse_sets

DEFAULT_STEPS = 1000
DEFAULT_THREADS = 1

EPILOG = """\
exit status: 0 done; 1 a gradient check failed; 2 an error (one line `minigen: error: ...`;
MINIGEN_DEBUG=1 shows the traceback); 130 interrupted by Ctrl-C (training saves its checkpoint first).

run folders: `train --out DIR` refuses a DIR that already holds a run; go on with --resume (continue it
with its own options: only --steps, --device and the display flags may be given anew), a new --out, or
--overwrite (replace it). Nothing in DIR changes until the first training step is done, so a refused or
failed start leaves DIR as it was. Ctrl-C stops between two steps, saves checkpoint.npz at that step and
prints how to resume; the resumed run is bit-for-bit the uninterrupted one on the CPU.

threads: train, eval and sample use one BLAS thread by default (--threads N to change): these matrices
are small; on a busy 2-core machine a second thread bought nothing (README, "The minigen command").

data: the command trains on the built-in data sets (`minigen list`); MNIST-style IDX/.npz files load in
Python (minigen.data.load_idx, load_npz). `minigen info NAME` lists a model's options with defaults and
types, its data sets, metrics and paper; `eval --split valid` names metrics valid_*."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise _CliError(message)


class _CliError(Exception):
    pass


def _positive(kind, what: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects {what}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expects {what}, got {text}")
        return value
    return parse


_STEPS = _positive(int, "a positive number of steps")
_COUNT = _positive(int, "a positive integer")
_RATE = _positive(float, "a positive number")


def _add_compute(p, device: bool = True) -> None:
    if device:
        p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where to run (default: cpu)")
    p.add_argument("--threads", type=_COUNT, default=DEFAULT_THREADS, metavar="N",
                   help=f"BLAS threads (default: {DEFAULT_THREADS}; see `minigen --help`)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="minigen", description="Train, sample and evaluate minigen's generative models.",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"minigen {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    sub.add_parser("list", help="every model and the data sets it trains on")
    i = sub.add_parser("info", help="a model's paper, data sets, options (defaults, types) and metrics")
    i.add_argument("name", help="a registered model (minigen list)")
    i.add_argument("--data", help="show the options for this data set (default: the model's first)")

    t = sub.add_parser("train", help="train a model; writes run.json, checkpoint, metrics, samples, curves")
    t.add_argument("name", help="a registered model (minigen list)")
    t.add_argument("--out", required=True, metavar="DIR", help="the run folder (required)")
    t.add_argument("--data", help="data set (default: digits; for a model without digits, its first; "
                                  "`minigen info NAME`)")
    t.add_argument("--steps", type=_STEPS, metavar="N",
                   help=f"optimizer steps in all, counted from 0 (default: {DEFAULT_STEPS}; with --resume the "
                        "run's own target)")
    t.add_argument("--seed", type=int, help="seed of the parameters, data order and noise (default: 0)")
    t.add_argument("--lr", type=_RATE, help="learning rate (default: the model's, `minigen info NAME`)")
    t.add_argument("--batch-size", type=_COUNT, metavar="B", help="batch size (default: the model's)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model option, e.g. --set hidden=200 (repeatable; `minigen info NAME`)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    _add_compute(t)
    t.add_argument("--tensorboard", action="store_true", help="also log TensorBoard events (tensorboardX)")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel over the processes of `mpirun -n R` (MPI on cpu, NCCL on cuda); the "
                        "batch size stays the global one (README, 'Data-parallel training')")
    t.add_argument("--sync-batchnorm", action="store_true", help="with --distributed: BatchNorm statistics "
                                                                  "over every rank's examples (default: local)")
    t.add_argument("--dist-timeout", type=_RATE, default=300.0, metavar="S",
                   help="with --distributed: seconds a rank waits for the others before ending the job "
                        "(default: 300)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--eval-split", choices=["test", "valid"], default="test",
                   help="the split of the metrics printed and written to metrics.json at the end (default: "
                        "test); valid for pilot runs, so that choosing a setting never reads test")

    for name, text in (("sample", "draw samples from a trained model: a picture and an .npz of exactly --n"),
                       ("eval", "print a trained model's metrics (JSON on the last line)")):
        s = sub.add_parser(name, help=text)
        s.add_argument("name", help="the model of the run")
        s.add_argument("--from", dest="source", required=True, metavar="DIR", help="the --out folder of a run")
        if name == "sample":
            s.add_argument("--n", type=_COUNT, default=64, help="number of samples (default: 64)")
            s.add_argument("--seed", type=int, default=0, help="seed of the draws (default: 0)")
            s.add_argument("--out", default=None, metavar="PNG",
                           help="picture path (default: DIR/samples-SEED.png); the samples go beside it as .npz")
            s.add_argument("--input", default=None, metavar="FILE_OR_SPLIT",
                           help="translation models (pix2pix, cyclegan, stargan): translate these images, a split's "
                                "source images (train, valid, test) or an .npy/.npz file of (N, 1, 8, 8) images in "
                                "[0, 1]; the picture shows input | output pairs")
            s.add_argument("--text", default=None, metavar="CAPTION",
                           help='gan-cls: the caption of every sample, e.g. "a thick seven slanted right"')
            s.add_argument("--parts", default=None, metavar="I,J,...",
                           help="puzzle-gan: complete the first --n test digits from these parts (indices "
                                "row-major in the model's grid)")
        else:
            s.add_argument("--split", choices=["train", "valid", "test"], default="test",
                           help="the split to measure (default: test); names say it: test_nll, valid_nll")
            s.add_argument("--seed", type=int, default=trainer.EVAL_SEED,
                           help=f"seed of the evaluation's random draws (default: {trainer.EVAL_SEED}, as for "
                                "metrics.json)")
        _add_compute(s)

    g = sub.add_parser("gradcheck", help="run the gradient checks of one op or layer and print the report")
    g.add_argument("op", help="an op or layer name, or 'all'")
    g.add_argument("--seed", type=int, default=0, help="(default: 0)")

    b = sub.add_parser("bench", help="run a benchmark script from bench/ (needs a source checkout)")
    b.add_argument("script", help="e.g. overhead, kernels, zoo")
    b.add_argument("args", nargs=argparse.REMAINDER, help="passed to the script (e.g. --help)")
    return p


# ------------------------------------------------------------------------------------------ training

def _overrides(cls, args, data: str) -> dict:
    """--set, --lr and --batch-size as model options, checked against the model's options and types."""
    overrides = parse_sets(cls, args.name, data, args.set)
    for key, value in (("lr", args.lr), ("batch_size", args.batch_size)):
        if value is not None:
            overrides[key] = value
    return overrides


def _resumed_options(cls, args, run: dict) -> tuple[str, dict, int]:
    """(data, config, seed) of the run being resumed; flags that would change it are refused."""
    differ = []
    if args.data is not None and args.data != run["data"]:
        differ.append(f"--data {args.data} (the run's: {run['data']})")
    if args.seed is not None and args.seed != run.get("seed", 0):
        differ.append(f"--seed {args.seed} (the run's: {run.get('seed', 0)})")
    for key, value in _overrides(cls, args, run["data"]).items():
        if run["config"].get(key) != value:
            differ.append(f"{key}={json.dumps(value)} (the run's: {json.dumps(run['config'].get(key))})")
    if differ:
        raise _CliError(f"--resume: {args.out} was trained with other options: {'; '.join(differ)}; drop them to "
                        "continue the run as it was, or train into a new --out")
    return run["data"], run["config"], run.get("seed", 0)


def _prepare(cls, args, data: str, config: dict, overrides: dict, seed: int, steps: int, parallel=None):
    """The model and its Training, built in memory; an error names the --set values it was built with."""
    import minigen.models as models

    try:
        backend.manual_seed(seed)  # --seed also picks the starting weights, whatever ran before in this process
        model = models.create(args.name, data=data, **config)
        return model, trainer.Training(model, steps, args.out, seed=seed, device=args.device, resume=args.resume,
                                       parallel=parallel)
    except (ValueError, TypeError, RuntimeError) as e:
        if not overrides or isinstance(e, (trainer.CheckpointMismatch, run_folder.RunFolderError)):
            raise
        raise _CliError(f"{args.name} refused {about_overrides(cls, data, overrides)}: {e}") from e


def _train(args) -> None:
    if not args.distributed:
        if args.sync_batchnorm:
            raise _CliError("--sync-batchnorm synchronises the ranks of --distributed: give --distributed too")
        return _train_run(args)
    from .distributed import DataParallel

    parallel = DataParallel(args.device, sync_batchnorm=args.sync_batchnorm, timeout=args.dist_timeout)
    with parallel.abort_on_error():  # an error on one rank ends every rank, naming it
        _train_run(args, parallel)
        parallel.finish()


def _train_run(args, parallel=None) -> None:
    import minigen.models as models

    cls = models.model_class(args.name)
    run_folder.check_folder(args.out)
    if args.resume and args.overwrite:
        raise _CliError("--resume continues the run in --out and --overwrite replaces it: give one of them")
    if args.device == "cuda" and not backend.cuda_is_available():
        raise _CliError("--device cuda: no GPU is available here (CuPy missing or no device); use --device cpu")
    command = shlex.join(["minigen", *args.argv])
    if args.resume:
        run = run_folder.run_for_resume(args.out, args.name)
        data, config, seed = _resumed_options(cls, args, run)
        overrides, steps = {}, args.steps or run.get("steps")
        if steps is None:
            raise _CliError(f"--resume: {args.out}/run.json records no target; give --steps")
        done = trainer.checkpoint_step(args.out)
        if steps <= done:
            raise _CliError(f"--resume: {args.out} is already at step {done}; --steps counts from 0, so ask for "
                            f"more than {done} (e.g. --steps {2 * done})")
        record = {**run, "steps": steps, "resumed": [*run.get("resumed", []), command]}
    else:
        existing = run_folder.read_run(args.out)
        if existing is not None and not args.overwrite:
            run_folder.refuse_new_run(args.out, args.name, existing)
        data = args.data or cls.default_data()
        if data not in cls.datasets:
            raise _CliError(f"--data {data}: {args.name} trains on {', '.join(cls.datasets)} (minigen info "
                            f"{args.name}; minigen list)")
        overrides = _overrides(cls, args, data)
        config, seed, steps = overrides, 0 if args.seed is None else args.seed, args.steps or DEFAULT_STEPS
        record = {"name": args.name, "data": data, "config": {**cls.default_config(data), **overrides},
                  "seed": seed, "steps": steps, "command": command}
    model, training = _prepare(cls, args, data, config, overrides, seed, steps, parallel)
    try:
        history = training.run(progress=not args.no_progress, tensorboard=args.tensorboard,
                               on_start=lambda: run_folder.start(args.out, record, overwrite=args.overwrite))
    except trainer.Interrupted as stop:
        if training.is_root:
            print(_interrupted(stop, args, parallel), file=sys.stderr)
        sys.exit(130)
    if training.is_root:  # data-parallel: rank 0 alone evaluates and writes
        print(json.dumps(_write_outputs(model, history, args.out, args.eval_split)))


def _interrupted(stop, args, parallel=None) -> str:
    again = f"minigen train {args.name} --out {args.out} --resume"
    if parallel is not None:
        again = f"mpirun -n {parallel.world_size} {again} --distributed"
    if stop.saved:
        return (f"minigen: interrupted at step {stop.step} of {stop.steps}; checkpoint saved at step {stop.step} "
                f"in {stop.path}; continue with: {again}")
    if stop.checkpoint_step is None:
        return f"minigen: interrupted at step {stop.step} of {stop.steps} (second Ctrl-C): no checkpoint was saved"
    return (f"minigen: interrupted at step {stop.step} of {stop.steps} (second Ctrl-C, not saved); the checkpoint "
            f"holds step {stop.checkpoint_step}; continue with: {again}")


def _write_outputs(model, history, out: str, split: str = "test") -> dict:
    from . import viz

    metrics = trainer.evaluate(model, split)
    run_folder.write_json(os.path.join(out, "metrics.json"), metrics)
    with model.evaluating():
        viz.save_samples(model, os.path.join(out, "samples.png"))
    viz.plot_curves(history.data, os.path.join(out, "curves.png"))
    return metrics


# ---------------------------------------------------------------------------------- trained models

def _load_run(args):
    import minigen.models as models

    if args.device == "cuda" and not backend.cuda_is_available():
        raise _CliError("--device cuda: no GPU is available here (CuPy missing or no device); use --device cpu")
    run = run_folder.run_for_reading(args.source, args.name)
    model = models.create(args.name, data=run["data"], **run["config"])
    trainer.load_model(model, args.source, args.device)
    model.eval()
    return model


def _eval(args) -> None:
    model = _load_run(args)
    print(json.dumps(trainer.evaluate(model, args.split, seed=args.seed)))


def _sample(args) -> None:
    from .cli_sample import sample  # imported when used: it reads this module's _load_run and _CliError

    sample(args)


# --------------------------------------------------------------------------------------- the rest

def _list(args) -> None:
    import minigen.models as models

    print(list_text(models.names(), models.model_class))


def _info(args) -> None:
    import minigen.models as models

    print(info_text(args.name, models.model_class(args.name), args.data))


def _gradcheck(args) -> None:
    from .testing import catalog

    ok = catalog.run(args.op, seed=args.seed, out=sys.stdout)
    if not ok:
        sys.exit(1)


def _bench(args) -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.join(root, "bench", f"{args.script}.py")
    if not os.path.exists(script):
        raise _CliError(f"no benchmark {args.script!r} (looked for {script}; benchmarks need a source checkout)")
    sys.exit(subprocess.call([sys.executable, script, *args.args]))


COMMANDS = {"list": _list, "info": _info, "train": _train, "sample": _sample, "eval": _eval,
            "gradcheck": _gradcheck, "bench": _bench}


@contextlib.contextmanager
def _threads(n: int | None):
    """At most n BLAS/OpenMP threads inside the block (threadpoolctl); no limit when n is None."""
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise ImportError("--threads needs threadpoolctl (a dependency of minigen): pip install threadpoolctl") \
            from None
    with threadpool_limits(limits=n):
        yield


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parser().parse_args(argv)
        args.argv = argv
        with _threads(getattr(args, "threads", None)):
            COMMANDS[args.command](args)
    except KeyboardInterrupt:  # outside a training loop: loading, preparing, evaluating, sampling
        before = " before the first training step; the run folder is as it was" if argv[:1] == ["train"] else ""
        print(f"minigen: interrupted{before}", file=sys.stderr)
        sys.exit(130)
    except (_CliError, OptionError, KeyError, OSError, ImportError, ValueError, TypeError, RuntimeError) as e:
        if os.environ.get("MINIGEN_DEBUG"):
            raise
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"minigen: error: {' '.join(str(message).split())}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
