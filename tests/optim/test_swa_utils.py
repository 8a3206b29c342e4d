"""Weight averaging (optim.swa_utils): the EMA and SWA averages against their closed forms and against
PyTorch's AveragedModel on the same weight sequence, buffers, state and errors."""
import numpy as np
import pytest

import minigen as mg
from minigen import nn
from minigen.optim import swa_utils


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.register_buffer("count", mg.tensor(np.zeros(2, np.float32)))

    def forward(self, x):
        return self.lin(x)


def _trajectory(n, seed=0):
    """n sets of weights (W, b) drawn at random, as training would visit them."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((2, 3)), rng.standard_normal(2)) for _ in range(n)]


def _walk(averaged, net, steps):
    for t, (w, b) in enumerate(steps):
        net.lin.weight.data = w.astype(np.float32)
        net.lin.bias.data = b.astype(np.float32)
        net.count.data = np.full(2, t, np.float32)
        averaged.update_parameters(net)


def test_ema_is_the_recursion_started_from_the_first_weights():
    net, steps, decay = Net(), _trajectory(7), 0.9
    averaged = swa_utils.AveragedModel(net, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(decay))
    _walk(averaged, net, steps)
    expected = steps[0][0]
    for w, _ in steps[1:]:
        expected = decay * expected + (1 - decay) * w
    np.testing.assert_allclose(averaged.module.lin.weight.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert int(averaged.n_averaged.item()) == 7
    single = swa_utils.AveragedModel(Net(), avg_fn=swa_utils.get_ema_avg_fn(decay))
    _walk(single, net, steps)
    np.testing.assert_allclose(single.module.lin.bias.numpy(), averaged.module.lin.bias.numpy(), rtol=1e-6)


def test_swa_default_is_the_mean_of_every_update():
    net, steps = Net(), _trajectory(5, seed=1)
    averaged = swa_utils.AveragedModel(net)
    _walk(averaged, net, steps)
    np.testing.assert_allclose(averaged.module.lin.weight.numpy(), np.mean([w for w, _ in steps], axis=0),
                               rtol=1e-5, atol=1e-6)


def test_ema_and_swa_match_torch_averaged_model():
    torch = pytest.importorskip("torch")
    from torch.optim import swa_utils as tswa

    for make, tmake in [(lambda: {"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(0.95)},
                         lambda: {"multi_avg_fn": tswa.get_ema_multi_avg_fn(0.95)}), (dict, dict)]:
        net, tnet, steps = Net(), torch.nn.Linear(3, 2), _trajectory(6, seed=2)
        ours, theirs = swa_utils.AveragedModel(net, **make()), tswa.AveragedModel(tnet, **tmake())
        _walk(ours, net, steps)
        for w, b in steps:
            with torch.no_grad():
                tnet.weight.copy_(torch.tensor(w, dtype=torch.float32))
                tnet.bias.copy_(torch.tensor(b, dtype=torch.float32))
            theirs.update_parameters(tnet)
        np.testing.assert_allclose(ours.module.lin.weight.numpy(), theirs.module.weight.detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours.module.lin.bias.numpy(), theirs.module.bias.detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
        assert int(ours.n_averaged.item()) == int(theirs.n_averaged) == 6


def test_buffers_follow_the_model_unless_averaged():
    net, steps = Net(), _trajectory(4)
    followed = swa_utils.AveragedModel(net)
    averaged = swa_utils.AveragedModel(net, use_buffers=True)
    _walk(followed, net, steps)
    net.count.data = np.zeros(2, np.float32)  # walk again for the second: the same buffer values 0..3
    _walk(averaged, net, steps)
    np.testing.assert_array_equal(followed.module.count.numpy(), [3, 3])
    np.testing.assert_allclose(averaged.module.count.numpy(), [1.5, 1.5])  # the mean of 0, 1, 2, 3


def test_the_copy_is_independent_untrained_and_round_trips_its_state():
    net = Net()
    averaged = swa_utils.AveragedModel(net, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.5))
    assert all(not p.requires_grad for p in averaged.module.parameters())
    assert all(p.requires_grad for p in net.parameters())
    _walk(averaged, net, _trajectory(3))
    before = averaged.module.lin.weight.numpy().copy()
    net.lin.weight.data = net.lin.weight.data + 1  # changing the model leaves the average alone
    np.testing.assert_array_equal(averaged.module.lin.weight.numpy(), before)
    assert set(averaged.state_dict()) == {"n_averaged", "module.lin.weight", "module.lin.bias", "module.count"}
    fresh = swa_utils.AveragedModel(Net())
    fresh.load_state_dict(averaged.state_dict())
    np.testing.assert_array_equal(fresh.module.lin.weight.numpy(), before)
    assert int(fresh.n_averaged.item()) == 3
    x = mg.tensor(np.ones((1, 3), np.float32))
    np.testing.assert_array_equal(fresh(x).numpy(), averaged.module(x).numpy())


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="not both"):
        swa_utils.AveragedModel(Net(), avg_fn=swa_utils.get_ema_avg_fn(), multi_avg_fn=swa_utils.get_ema_multi_avg_fn())
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="decay must be in"):
            swa_utils.get_ema_multi_avg_fn(bad)
    with pytest.raises(ValueError, match="do not match"):
        swa_utils.AveragedModel(Net()).update_parameters(nn.Linear(3, 3))
