"""CycleGAN (models/gan/cyclegan.py): the paper's constant-then-linear learning rate; the per-direction cycle weights."""
from __future__ import annotations

import pytest

import minigen as mg
from minigen import models, trainer
from minigen.models.gan import losses

TINY = {"channels": [4, 8, 8], "d_channels": 4, "batch_size": 8}


@pytest.mark.parametrize("start,steps,expected", [
    (0.5, 8, [1, 1, 1, 1, 1, 0.75, 0.5, 0.25]),  # the paper's halves: lr until t_0 = 4, then (T - t) / (T - t_0)
    (0.0, 4, [1, 0.75, 0.5, 0.25]),              # from the start: GANModel's decay over the whole run
    (0.75, 4, [1, 1, 1, 1]),                     # t_0 = 3: the last step still has the full rate
])
def test_decay_start_keeps_the_rate_then_decays_it_linearly_to_zero_at_the_end(start, steps, expected):
    model = models.create("cyclegan", lr=1e-3, decay_start=start, **TINY)
    opts = model.configure_optimizers()
    schedulers = model.configure_schedulers(opts, steps)
    assert len(schedulers) == 2
    t0 = round(start * steps)
    for t, factor in enumerate(expected):
        for opt in opts:
            assert opt.param_groups[0]["lr"] == pytest.approx(1e-3 * factor, abs=1e-15)
            assert opt.param_groups[0]["lr"] == pytest.approx(1e-3 * min(1.0, (steps - t) / (steps - t0)))
        for s in schedulers:
            s.step()


def test_no_decay_start_keeps_the_rate_and_bad_values_are_refused():
    model = models.create("cyclegan", **TINY)
    assert model.decay_start is None and model.configure_schedulers(model.configure_optimizers(), 100) == []
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="decay_start"):
            models.create("cyclegan", decay_start=bad, **TINY)


def test_training_with_decay_start_uses_the_decayed_rate(tmp_path):
    """Through the trainer: after 4 steps decaying from step 2, the last rate written is lr (4 - 4) / (4 - 2) = 0,
    and a decayed run ends elsewhere than a constant-rate run of the same seed."""
    def run(**extra):
        mg.manual_seed(0)
        model = models.create("cyclegan", lr=1e-3, **TINY, **extra)
        training = trainer.Training(model, 4, str(tmp_path / str(extra)), checkpoint_every=10**9)
        training.run(progress=False)
        return model, training

    decayed, training = run(decay_start=0.5)
    assert [opt.param_groups[0]["lr"] for opt in training.optimizers] == [0.0, 0.0]
    constant, _ = run()
    weights = [(p.numpy(), q.numpy()) for p, q in zip(decayed.parameters(), constant.parameters())]
    assert any((p != q).any() for p, q in weights)


def _objective(model, a, b):
    mg.manual_seed(0)
    loss, *_ = model.generator_objective(a, b)
    return loss.item()


def test_cycle_weight_b_weights_the_b_cycle_alone():
    """L = L_adv + lambda_A L_cyc,A + lambda_B L_cyc,B + lambda_id L_id (the authors' code's lambda_A, lambda_B):
    the objective computed by hand from the terms; None is the paper's lambda_B = lambda_A."""
    model = models.create("cyclegan", cycle_weight=10.0, cycle_weight_b=2.5, identity_weight=1.0, **TINY)
    a, b = (x[:8] for x in model.eval_batch("valid"))
    fake_b, fake_a = model.g_ab(a), model.g_ba(b)
    adv = (losses.generator_loss("least-squares", model.d_b(fake_b).reshape(-1))
           + losses.generator_loss("least-squares", model.d_a(fake_a).reshape(-1))).item()
    cycle_a, cycle_b, identity = (t.item() for t in model.cycle_terms(a, b, fake_b, fake_a))
    assert cycle_a > 0.01 and cycle_b > 0.01
    assert _objective(model, a, b) == pytest.approx(adv + 10.0 * cycle_a + 2.5 * cycle_b + identity, rel=1e-5)
    model.cycle_weight_b = 10.0
    assert _objective(model, a, b) == pytest.approx(adv + 10.0 * (cycle_a + cycle_b) + identity, rel=1e-5)
    assert models.create("cyclegan", cycle_weight=3.0, **TINY).cycle_weight_b == 3.0
    with pytest.raises(ValueError, match="cycle_weight_b"):
        models.create("cyclegan", cycle_weight_b=-1.0, **TINY)
