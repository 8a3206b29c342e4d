"""`minigen sample`: draws from a trained run, with the conditions some models take (--input for the
image-to-image GANs, --text for gan-cls, --parts for puzzle-gan); the rest of the command is minigen/cli.py."""
from __future__ import annotations

import os

from .cli import _CliError, _load_run


def _indices(text: str) -> list:
    """'0,3,5' -> [0, 3, 5] (a clear error otherwise)."""
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise _CliError(f"--parts {text}: expected comma-separated part indices, e.g. --parts 0,3,5") from None


def sample(args) -> None:
    """`minigen sample NAME --from DIR`: n samples (or translations of --input, or samples for a --text
    caption or the --parts given) as an .npz and a picture."""
    import numpy as np

    import minigen as mg

    from . import viz

    from minigen.models.base import TranslationModel

    model = _load_run(args)
    mg.manual_seed(args.seed)
    if args.input is not None and not isinstance(model, TranslationModel):
        raise _CliError(f"--input: {args.name} does not translate images (pix2pix, cyclegan and stargan do)")
    y = np.arange(args.n) % model.num_classes if model.conditional else None
    if args.input is not None:
        try:
            y = model.inputs(args.input)
        except (TypeError, ValueError, OSError) as e:
            raise _CliError(str(e)) from e
        args.n = len(y)
    flag = "--text" if args.text is not None else "--parts" if args.parts is not None else None
    if flag:  # a caption (gan-cls) or the parts given (puzzle-gan) as the condition
        y = args.text if args.text is not None else {"parts": _indices(args.parts)}
    try:
        with model.evaluating():
            samples = model.sample(args.n, y).numpy()
    except TypeError as e:
        raise _CliError(f"{flag}: {e}" if flag else str(e)) from e
    path = args.out or os.path.join(args.source, f"samples-{args.seed}.png")
    key = "inputs" if args.input else "text" if args.text is not None else "parts" if args.parts else "labels"
    arrays = {"samples": samples} if y is None else {"samples": samples, key: y["parts"] if args.parts else y}
    npz = os.path.splitext(path)[0] + ".npz"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(npz, **arrays)
    if args.input is not None:
        viz.save_image_grid(np.stack([y, samples], 1).reshape(-1, *samples.shape[1:]), path, nrow=16,
                            value_range=model.value_range)
        what = "input | output pairs"
    elif samples.ndim == 4:
        viz.save_image_grid(samples, path, nrow=10 if model.conditional else None, value_range=model.value_range)
        what = "an image grid"
    elif samples.ndim == 2 and samples.shape[1] == 2 and model.data_name != "digits":
        from .data.toys import toy_centres

        viz.toy_figure(samples, toy_centres(model.data_name), path, title=f"{args.name}: {args.n} samples")
        what = "a scatter plot"
    else:
        with model.evaluating():
            viz.save_samples(model, path, n=args.n)
        what = f"{args.name}'s own figure"
    print(f"{len(samples)} samples of shape {tuple(samples.shape[1:])}: {npz} ({what}: {path})")
