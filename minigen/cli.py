"""The `minigen` command: list, train, sample, eval, gradcheck, bench.

    minigen train nade --data digits --steps 2000 --out runs/nade
    minigen eval nade --from runs/nade          # the metrics as JSON on the last line

Bad names, missing files and bad flags print one line `minigen: error: ...` and exit with status 2
(set MINIGEN_DEBUG=1 for the traceback).
This is the one place in minigen/ that reads the model registry (minigen.models), and only when a
command needs it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise _CliError(message)


class _CliError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="minigen", description="Train, sample and evaluate minigen's generative models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="models and data sets")

    t = sub.add_parser("train", help="train a model and write checkpoint, metrics, samples and curves")
    t.add_argument("name")
    t.add_argument("--data", default="digits")
    t.add_argument("--steps", type=int, default=1000)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True)
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    t.add_argument("--tensorboard", action="store_true", help="also log TensorBoard events (tensorboardX)")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model option, e.g. --set hidden=200 (repeatable)")

    for name, text in (("sample", "write a grid of samples from a trained model"),
                       ("eval", "print a trained model's metrics (JSON on the last line)")):
        s = sub.add_parser(name, help=text)
        s.add_argument("name")
        s.add_argument("--from", dest="source", required=True, help="the --out folder of a training run")
        s.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
        s.add_argument("--seed", type=int, default=0)
        if name == "sample":
            s.add_argument("--n", type=int, default=64)
            s.add_argument("--out", default=None, help="image path (default: FROM/samples-SEED.png)")
        else:
            s.add_argument("--split", choices=["train", "valid", "test"], default="test")

    g = sub.add_parser("gradcheck", help="run the gradient checks of one op or layer and print the report")
    g.add_argument("op", help="an op or layer name, or 'all'")
    g.add_argument("--seed", type=int, default=0)

    b = sub.add_parser("bench", help="run a benchmark script from bench/ (needs a source checkout)")
    b.add_argument("script", help="e.g. overhead, kernels, zoo")
    b.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _config(args) -> tuple[str, dict]:
    """The run's model options: saved ones (for sample/eval), else --set/--lr/--batch-size overrides."""
    overrides = {}
    for item in args.set:
        if "=" not in item:
            raise _CliError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    if args.lr is not None:
        overrides["lr"] = args.lr
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    return args.data, overrides


def _load_run(args):
    import minigen.models as models
    from . import trainer

    path = os.path.join(args.source, "run.json")
    if not os.path.exists(path):
        raise _CliError(f"{args.source} holds no training run (run.json missing)")
    with open(path) as f:
        run = json.load(f)
    if run["name"] != args.name:
        raise _CliError(f"{args.source} holds a {run['name']!r} run, not {args.name!r}")
    model = models.create(args.name, data=run["data"], **run["config"])
    trainer.load_model(model, args.source, args.device)
    model.eval()
    return model


def _write_outputs(model, history, out: str) -> dict:
    from . import viz

    metrics = model.metrics("test")
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    with model.evaluating():
        viz.save_samples(model, os.path.join(out, "samples.png"))
    viz.plot_curves(history.data, os.path.join(out, "curves.png"))
    return metrics


def _train(args) -> None:
    import minigen.models as models
    from . import trainer

    data, overrides = _config(args)
    model = models.create(args.name, data=data, **overrides)
    config = {**type(model).default_config(data), **overrides}
    with open(os.path.join(_mkdir(args.out), "run.json"), "w") as f:
        json.dump({"name": args.name, "data": data, "config": config, "seed": args.seed,
                   "command": "minigen " + " ".join(sys.argv[1:])}, f, indent=2)
    history = trainer.train(model, args.steps, args.out, seed=args.seed, device=args.device,
                            resume=args.resume, progress=not args.no_progress, tensorboard=args.tensorboard)
    metrics = _write_outputs(model, history, args.out)
    print(json.dumps(metrics))


def _mkdir(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path


def _sample(args) -> None:
    import minigen as mg
    from . import viz

    model = _load_run(args)
    mg.manual_seed(args.seed)
    path = args.out or os.path.join(args.source, f"samples-{args.seed}.png")
    with model.evaluating():
        viz.save_samples(model, path, n=args.n)
    print(path)


def _eval(args) -> None:
    model = _load_run(args)
    print(json.dumps(model.metrics(args.split)))


def _list(args) -> None:
    import minigen.models as models

    print("models:", " ".join(models.names()))
    print("data:   digits ring8 grid25 moons swissroll (and MNIST-style IDX/.npz files you have)")


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


COMMANDS = {"list": _list, "train": _train, "sample": _sample, "eval": _eval, "gradcheck": _gradcheck,
            "bench": _bench}


def main(argv=None) -> None:
    try:
        args = _parser().parse_args(argv)
        COMMANDS[args.command](args)
    except (_CliError, KeyError, FileNotFoundError, ImportError, ValueError, TypeError) as e:
        if os.environ.get("MINIGEN_DEBUG"):
            raise
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"minigen: error: {message}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
