"""The softmax cross-entropy of F.cross_entropy's common case as one node, and its gradient as one node.

For logits x (N, C), class indices t and p = softmax(x) row by row:

    loss_n = logsumexp(x_n) - x_n[t_n],        d loss_n / d x_n = p_n - onehot(t_n).

The classifier's step (an MLP's last layer) spends most of its time per node, not per number, so the
forward is one node instead of log_softmax, an index, a negation and a mean, and the backward is one node
(`SoftmaxCrossEntropyGrad`) instead of a softmax, a subtraction, a division and a product. The gradient
node has its own backward, so the loss stays twice differentiable.
"""
from __future__ import annotations

from .. import backend
from ..function import Function
from ..tensor import Tensor
from .reduction import softmax
from .shape import reshape


class SoftmaxCrossEntropy(Function):
    """loss_n = logsumexp(x_n) - x_n[t_n] for logits x (N, C) and class indices t (`target`), reduced by
    `reduction` (mean, sum or none). d loss_n / dx_n = softmax(x_n) - onehot(t_n), so backward is
    (softmax(x) - onehot(t)) s with s = gy / N (mean), gy (sum) or gy_n (none): one SoftmaxCrossEntropyGrad
    node, handed the softmax this forward computed on the way."""

    def forward(self, x):
        xp = backend.array_module(x)
        z = x - x.max(axis=1, keepdims=True)
        e = xp.exp(z)
        total = e.sum(axis=1, keepdims=True)
        self.probs = e / total  # softmax(x), for backward
        loss = xp.log(total[:, 0]) - z[xp.arange(len(x)), self.target]
        return loss if self.reduction == "none" else loss.mean() if self.reduction == "mean" else loss.sum()

    def backward(self, gy):
        return SoftmaxCrossEntropyGrad.apply(self.inputs[0], gy, probs=self.probs, target=self.target,
                                             reduction=self.reduction)


class SoftmaxCrossEntropyGrad(Function):
    """g = (p - onehot(t)) s, the gradient of SoftmaxCrossEntropy with respect to its logits x, for the
    upstream gradient gy (s = gy / N, gy or gy_n as the reduction was mean, sum or none; p = softmax(x),
    passed as `probs` by the forward that computed it). Its own derivatives, for double backward, with gz
    the gradient arriving at g:

        d/dx  <gz, g> = s p (gz - sum_c gz p)            (the softmax Jacobian, row by row)
        d/dgy <gz, g> = sum_c gz (p - onehot(t))          summed over the rows (and / N) unless `none`
    """

    def forward(self, x, gy):
        xp = backend.array_module(x)
        g = self.probs.copy()
        g[xp.arange(len(g)), self.target] -= 1
        if self.reduction == "none":
            g *= gy[:, None]
        else:
            g *= gy / len(g) if self.reduction == "mean" else gy
        return g

    def backward(self, gz):
        x, gy = self.inputs
        p = softmax(x, axis=1)  # recomputed from x, so that this backward is differentiable again
        if self.reduction == "none":
            s = reshape(gy, (-1, 1))
        else:
            s = gy / len(p) if self.reduction == "mean" else gy
        gx = p * (gz - (gz * p).sum(axis=1, keepdims=True)) * s if x.requires_grad else None
        ggy = None
        if gy.requires_grad:
            xp = backend.array_module(x.data)
            onehot = xp.zeros(x.shape, x.dtype)
            onehot[xp.arange(len(onehot)), self.target] = 1
            per_row = (gz * (p - Tensor._make(onehot))).sum(axis=1)
            ggy = per_row if self.reduction == "none" else \
                per_row.sum() / len(p) if self.reduction == "mean" else per_row.sum()
        return gx, ggy
