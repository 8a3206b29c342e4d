"""Checks shared by the transform and flow tests: a transform's inverse and its log-determinant against
the full Jacobian computed by the engine's own reverse mode (minigen.autograd.functional.jacobian)."""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen.autograd.functional import jacobian


def full_jacobian(f, x: np.ndarray) -> np.ndarray:
    """d f(x) / d x as an (f(x).size, x.size) matrix, by the engine's jacobian (one reverse sweep a row)."""
    jac = jacobian(f, mg.tensor(x)).numpy()
    return jac.reshape(-1, x.size)


def check_bijection(t, x: np.ndarray, atol: float = 1e-5) -> None:
    """inverse(forward(x)) == x; forward_and_log_det, inverse_and_log_det and log_abs_det_jacobian agree;
    log |det J| of each event's block of the full Jacobian equals the transform's log-determinant, and the
    blocks between different events are zero (events transform independently)."""
    xt = mg.tensor(x)
    y, ldj = t.forward_and_log_det(xt)
    np.testing.assert_allclose(t.forward(xt).numpy(), y.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t.inverse(y).numpy(), x, atol=atol, rtol=0)
    x_back, ldj_back = t.inverse_and_log_det(y)
    np.testing.assert_allclose(x_back.numpy(), x, atol=atol, rtol=0)
    ldj = ldj.numpy() if isinstance(ldj, mg.Tensor) else np.asarray(ldj)
    np.testing.assert_allclose(ldj_back.numpy(), ldj, atol=1e-8, rtol=1e-8)
    np.testing.assert_allclose(t.log_abs_det_jacobian(xt, y).numpy(), ldj, atol=1e-8, rtol=1e-8)
    batch = x.shape[:x.ndim - t.event_dim]
    assert ldj.shape == batch, f"log-det of shape {ldj.shape}, expected the batch shape {batch}"
    events = int(np.prod(batch))
    size = x.size // events
    jac = full_jacobian(t.forward, x).reshape(events, size, events, size)
    for e in range(events):
        sign, logdet = np.linalg.slogdet(jac[e, :, e, :])
        assert sign != 0, "singular Jacobian"
        np.testing.assert_allclose(ldj.reshape(-1)[e], logdet, atol=1e-6, rtol=1e-6)
        others = np.delete(jac[e], e, axis=1)
        assert np.all(others == 0), "an event's output depends on another event's input"
