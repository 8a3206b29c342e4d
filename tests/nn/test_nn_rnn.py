"""LSTM and LSTMCell against a step-by-step NumPy loop with the same weights."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
import nn_reference as ref
from minigen import nn


def _params(module) -> dict:
    return {k: v.numpy() for k, v in module.named_parameters()}


@given(seed=st.integers(0, 2**31 - 1), num_layers=st.integers(1, 3), bidirectional=st.booleans(),
       batch_first=st.booleans(), with_state=st.booleans())
def test_lstm_matches_numpy_loop(seed, num_layers, bidirectional, batch_first, with_state):
    mg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    t_len, n, i, h = 4, 2, 3, 5
    lstm = nn.LSTM(i, h, num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional).double()
    d = 2 if bidirectional else 1
    x = rng.normal(size=(t_len, n, i))
    h0 = rng.normal(size=(num_layers * d, n, h)) if with_state else None
    c0 = rng.normal(size=(num_layers * d, n, h)) if with_state else None
    xin = x.transpose(1, 0, 2) if batch_first else x
    hx = (mg.tensor(h0), mg.tensor(c0)) if with_state else None
    out, (h_n, c_n) = lstm(mg.tensor(xin), hx)
    ref_out, ref_h, ref_c = ref.lstm(x, _params(lstm), num_layers, h, bidirectional, h0, c0)
    if batch_first:
        ref_out = ref_out.transpose(1, 0, 2)
    assert out.shape == ((n, t_len, d * h) if batch_first else (t_len, n, d * h))
    assert h_n.shape == c_n.shape == (num_layers * d, n, h)
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n.numpy(), ref_h, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c_n.numpy(), ref_c, rtol=1e-10, atol=1e-12)


def test_lstm_parameter_names_shapes_and_init():
    mg.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    shapes = {k: p.shape for k, p in lstm.named_parameters()}
    assert list(shapes)[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert shapes["weight_ih_l0"] == (16, 3) and shapes["weight_hh_l0_reverse"] == (16, 4)
    assert shapes["weight_ih_l1"] == (16, 8) and shapes["bias_hh_l1_reverse"] == (16,)
    bound = 1 / np.sqrt(4)
    values = np.concatenate([p.numpy().ravel() for p in lstm.parameters()])
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound
    assert [k for k, _ in nn.LSTM(3, 4, bias=False).named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]


def test_lstm_cell_steps_equal_one_layer_lstm():
    mg.manual_seed(3)
    cell = nn.LSTMCell(2, 3).double()
    lstm = nn.LSTM(2, 3).double()
    lstm.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x = mg.tensor(np.random.default_rng(0).normal(size=(5, 2, 2)))
    h = c = mg.zeros(2, 3, dtype=np.float64)
    for t in range(5):
        h, c = cell(x[t], (h, c))
    out, (h_n, c_n) = lstm(x)
    np.testing.assert_allclose(out.numpy()[-1], h.numpy(), rtol=1e-12)
    np.testing.assert_allclose(c_n.numpy()[0], c.numpy(), rtol=1e-12)


def test_lstm_dropout_between_layers_only_in_training():
    mg.manual_seed(0)
    lstm = nn.LSTM(2, 8, num_layers=2, dropout=0.5)
    x = mg.randn(3, 2, 2)
    lstm.eval()
    a, b = lstm(x)[0].numpy(), lstm(x)[0].numpy()
    np.testing.assert_array_equal(a, b)
    lstm.train()
    assert not np.allclose(lstm(x)[0].numpy(), a)


def test_lstm_checks_shapes():
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\).*got \(2, 5, 2\)"):
        nn.LSTM(3, 4)(mg.zeros(2, 5, 2))
    with pytest.raises(ValueError, match="initial states"):
        nn.LSTM(3, 4)(mg.zeros(2, 5, 3), (mg.zeros(1, 4, 4), mg.zeros(1, 4, 4)))


def test_gru_matches_torch_with_the_same_weights():
    torch = pytest.importorskip("torch")
    mg.manual_seed(2)
    ours = nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    theirs = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            getattr(theirs, name).copy_(torch.tensor(p.numpy()))
    x0 = np.random.default_rng(0).normal(size=(2, 5, 3))
    h0 = np.random.default_rng(1).normal(size=(4, 2, 4))
    x = mg.tensor(x0, requires_grad=True)
    out, h_n = ours(x, mg.tensor(h0))
    xt = torch.tensor(x0, requires_grad=True)
    out_t, h_t = theirs(xt, torch.tensor(h0))
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n.numpy(), h_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    (out.sum() + (h_n * h_n).sum()).backward()
    (out_t.sum() + (h_t * h_t).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), getattr(theirs, name).grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_gru_cell_steps_equal_one_layer_gru_and_shapes_are_checked():
    mg.manual_seed(3)
    cell = nn.GRUCell(2, 3).double()
    gru = nn.GRU(2, 3).double()
    gru.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x = mg.tensor(np.random.default_rng(0).normal(size=(5, 2, 2)))
    h = mg.zeros(2, 3, dtype=np.float64)
    for t in range(5):
        h = cell(x[t], h)
    out, h_n = gru(x)
    np.testing.assert_allclose(out.numpy()[-1], h.numpy(), rtol=1e-12)
    np.testing.assert_allclose(h_n.numpy()[0], h.numpy(), rtol=1e-12)
    assert [k for k, _ in nn.GRU(3, 4, bias=False).named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert nn.GRU(3, 4).weight_ih_l0.shape == (12, 3)
    with pytest.raises(ValueError, match=r"GRU\(3, 4\).*got \(2, 5, 2\)"):
        nn.GRU(3, 4)(mg.zeros(2, 5, 2))
    with pytest.raises(ValueError, match=r"GRU: expected initial states of shape \(1, 5, 4\)"):
        nn.GRU(3, 4)(mg.zeros(2, 5, 3), mg.zeros(1, 4, 4))


def test_torch_module_aliases():
    import minigen.nn.functional as nnf
    import minigen.utils.data as data

    assert nnf is mg.functional and nn.functional is mg.functional and mg.utils.data is mg.data
    assert data.DataLoader is mg.data.DataLoader
