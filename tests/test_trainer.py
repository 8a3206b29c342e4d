"""The trainer's side of the model protocol: it passes the step to train_step, steps the schedules that
configure_schedulers returns, and saves them so that a resumed run continues on the same rates; it keeps the
weight average that configure_averaging returns, which becomes the run's result."""
import numpy as np
import pytest

import minigen as mg
from minigen import nn, optim, trainer
from minigen.models.base import DIGITS_SHAPE, LikelihoodModel


class Recorder(LikelihoodModel):
    """Independent Bernoulli pixels that record the step and the learning rate of every update."""

    def __init__(self, decay: int = 0):
        super().__init__("digits", lr=0.1, batch_size=16)
        self.decay = decay
        self.logits = nn.Parameter(np.zeros(int(np.prod(DIGITS_SHAPE)), np.float32))
        self.seen: list = []

    def log_prob(self, x, reduce: bool = True):
        terms = x.flatten(1) * self.logits - (self.logits.exp() + 1).log()
        return terms.sum(axis=1) if reduce else terms.reshape(x.shape)

    def configure_schedulers(self, optimizers, steps):
        total = self.decay or steps
        return [optim.lr_scheduler.LinearLR(opt, 1.0, 0.0, total) for opt in optimizers]

    def train_step(self, batch, optimizers, step):
        self.seen.append((step, optimizers[0].param_groups[0]["lr"]))
        return super().train_step(batch, optimizers, step)

    def sample(self, n, y=None):
        self.labels(n, y)
        return (mg.rand(n, *DIGITS_SHAPE) < self.logits.sigmoid().reshape(DIGITS_SHAPE)).astype(np.float32)


def test_the_trainer_passes_the_step_and_steps_the_schedules(tmp_path):
    model = Recorder()
    trainer.train(model, 4, str(tmp_path), progress=False)
    assert [s for s, _ in model.seen] == [0, 1, 2, 3]
    np.testing.assert_allclose([lr for _, lr in model.seen], [0.1, 0.075, 0.05, 0.025])


def test_a_resumed_run_continues_the_schedule_exactly(tmp_path):
    straight = Recorder(decay=6)
    trainer.train(straight, 6, str(tmp_path / "a"), progress=False)
    first, second = Recorder(decay=6), Recorder(decay=6)
    trainer.train(first, 3, str(tmp_path / "b"), progress=False)
    trainer.train(second, 6, str(tmp_path / "b"), resume=True, progress=False)
    assert first.seen + second.seen == straight.seen
    np.testing.assert_array_equal(second.logits.numpy(), straight.logits.numpy())


class Raiser(Recorder):
    """Raises KeyboardInterrupt inside train_step `at` (as a second Ctrl-C would: mid-update)."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def train_step(self, batch, optimizers, step):
        if step == self.at:
            raise KeyboardInterrupt
        return super().train_step(batch, optimizers, step)


def test_an_interrupt_mid_step_keeps_the_last_whole_checkpoint(tmp_path):
    with pytest.raises(trainer.Interrupted) as stop:
        trainer.train(Raiser(at=5), 10, str(tmp_path), progress=False, checkpoint_every=2)
    assert (stop.value.step, stop.value.saved, stop.value.checkpoint_step) == (5, False, 4)
    assert trainer.checkpoint_step(str(tmp_path)) == 4


def test_steps_must_be_positive_and_not_below_the_checkpoint(tmp_path):
    for steps in (0, -1, 2.5):
        with pytest.raises(ValueError, match="steps must be a positive number"):
            trainer.train(Recorder(), steps, str(tmp_path / "none"), progress=False)
    assert not (tmp_path / "none").exists()
    trainer.train(Recorder(), 4, str(tmp_path / "a"), progress=False)
    with pytest.raises(ValueError, match="at step 4, beyond the 3 steps"):
        trainer.train(Recorder(), 3, str(tmp_path / "a"), resume=True, progress=False)


def test_nothing_is_written_before_the_first_step_completes(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        trainer.train(Raiser(at=0), 3, str(tmp_path / "run"), progress=False)
    assert not (tmp_path / "run").exists()


def test_evaluating_mid_run_leaves_the_random_streams_as_they_were():
    """evaluate() seeds its own generators (EVAL_SEED) but restores the run's: the draws after it equal the
    draws of a run that never evaluated, and two evaluations agree exactly."""
    from minigen import backend
    from minigen.trainer import evaluate

    class Noisy:
        def metrics(self, split):
            return {"test_noise": float(backend.rng("cpu").standard_normal())}

    backend.manual_seed(3)
    backend.rng("cpu").standard_normal(5)
    expected = backend.rng("cpu").standard_normal(4)
    backend.manual_seed(3)
    backend.rng("cpu").standard_normal(5)
    first = evaluate(Noisy())
    assert np.array_equal(backend.rng("cpu").standard_normal(4), expected)
    assert evaluate(Noisy()) == first
    assert evaluate(Noisy(), "valid") == {"valid_noise": first["test_noise"]}


class Averaging(Recorder):
    """The Recorder with an EMA of its weights (decay 0.5), recording the weights after every update."""

    def __init__(self, decay: int = 0):
        super().__init__(decay)
        self.trajectory: list = []

    def configure_averaging(self):
        return optim.swa_utils.AveragedModel(self, multi_avg_fn=optim.swa_utils.get_ema_multi_avg_fn(0.5))

    def train_step(self, batch, optimizers, step):
        logs = super().train_step(batch, optimizers, step)
        self.trajectory.append(self.logits.numpy().copy())
        return logs


def test_the_run_result_is_the_weight_average_and_the_checkpoint_keeps_both(tmp_path):
    model = Averaging()
    trainer.train(model, 5, str(tmp_path), progress=False)
    expected = model.trajectory[0]
    for w in model.trajectory[1:]:
        expected = 0.5 * expected + 0.5 * w
    np.testing.assert_allclose(model.logits.numpy(), expected, rtol=1e-6)  # what metrics.json measures
    assert not np.allclose(expected, model.trajectory[-1])  # the average is not the last weights
    ckpt = mg.load(str(tmp_path / trainer.CHECKPOINT))
    np.testing.assert_array_equal(ckpt["model"]["logits"].numpy(), model.trajectory[-1])  # to resume from
    np.testing.assert_array_equal(trainer.load_model(Recorder(), str(tmp_path)).logits.numpy(), model.logits.numpy())


def test_a_resumed_run_continues_the_average_exactly(tmp_path):
    straight = Averaging(decay=6)
    trainer.train(straight, 6, str(tmp_path / "a"), progress=False)
    first, second = Averaging(decay=6), Averaging(decay=6)
    trainer.train(first, 3, str(tmp_path / "b"), progress=False)
    trainer.train(second, 6, str(tmp_path / "b"), resume=True, progress=False)
    np.testing.assert_array_equal(np.array(first.trajectory + second.trajectory), np.array(straight.trajectory))
    np.testing.assert_array_equal(second.logits.numpy(), straight.logits.numpy())
    with pytest.raises(trainer.CheckpointMismatch, match="holds no weight averages"):
        trainer.train(Recorder(), 2, str(tmp_path / "c"), progress=False)
        trainer.train(Averaging(), 4, str(tmp_path / "c"), resume=True, progress=False)


def test_a_second_run_goes_on_from_the_trained_weights_not_the_averages(tmp_path):
    """run() leaves the averages in the model; running the same Training further (as bench/flows_valid.py does
    in segments) must continue from the trained weights, so 3 + 3 steps equal 6 steps."""
    straight = Averaging(decay=6)
    trainer.train(straight, 6, str(tmp_path / "a"), progress=False)
    segmented = Averaging(decay=6)
    training = trainer.Training(segmented, 3, str(tmp_path / "b"))
    training.run(progress=False)
    training.steps = 6
    training.run(progress=False)
    np.testing.assert_array_equal(np.array(segmented.trajectory), np.array(straight.trajectory))
    np.testing.assert_array_equal(segmented.logits.numpy(), straight.logits.numpy())
