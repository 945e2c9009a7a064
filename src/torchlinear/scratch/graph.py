r"""A computational graph from scratch, in NumPy: how autograd works, on one screen.

Every :class:`Node` holds a value, its parents and a rule that sends the gradient of the
output back to the parents (the chain rule, one operation at a time). :meth:`Node.backward`
orders the graph topologically and applies the rules from the output back to the leaves:

.. math::

    \bar v_{\text{parent}} \mathrel{+}= \bar v_{\text{node}} \,
        \frac{\partial v_{\text{node}}}{\partial v_{\text{parent}}}

Operations: :func:`matmul`, :func:`add` (with row broadcasting of a bias), :func:`square`,
:func:`sum`, :func:`scale` and :func:`softmax_cross_entropy` (log-softmax and the negative
log-likelihood fused, so that large logits cannot overflow). :func:`train_linear` and
:func:`train_softmax` train the two models of the chapter with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "Node",
    "add",
    "matmul",
    "scale",
    "softmax_cross_entropy",
    "square",
    "sum",
    "train_linear",
    "train_softmax",
]


class Node:
    """A value in the graph, the parents it was computed from, and its gradient.

    Examples
    --------
    >>> x = Node(np.array([1.0, 2.0]))
    >>> y = sum(square(x))
    >>> y.backward()
    >>> x.grad.tolist()
    [2.0, 4.0]
    """

    def __init__(
        self,
        value: Any,
        parents: tuple[Node, ...] = (),
        backward_rule: Callable[[np.ndarray], tuple[np.ndarray, ...]] | None = None,
    ) -> None:
        self.value = np.asarray(value, dtype=np.float64)
        self.parents = parents
        self.backward_rule = backward_rule
        self.grad = np.zeros_like(self.value)

    def backward(self) -> None:
        """Fill ``.grad`` of every node this one depends on (the output's own grad is 1)."""
        order: list[Node] = []
        seen: set[int] = set()

        def visit(node: Node) -> None:
            if id(node) not in seen:
                seen.add(id(node))
                for parent in node.parents:
                    visit(parent)
                order.append(node)

        visit(self)
        self.grad = np.ones_like(self.value)
        for node in reversed(order):  # every node before its parents
            if node.backward_rule is not None:
                for parent, g in zip(node.parents, node.backward_rule(node.grad), strict=True):
                    parent.grad = parent.grad + g

    def zero_grad(self) -> None:
        """Forget the gradient (``backward`` adds into it)."""
        self.grad = np.zeros_like(self.value)


def matmul(a: Node, b: Node) -> Node:
    """``a @ b``; gradients ``ḡ bᵀ`` and ``aᵀ ḡ``.

    Examples
    --------
    >>> matmul(Node([[1.0, 2.0]]), Node([[3.0], [4.0]])).value.tolist()
    [[11.0]]
    """
    return Node(a.value @ b.value, (a, b), lambda g: (g @ b.value.T, a.value.T @ g))


def add(a: Node, b: Node) -> Node:
    """``a + b``, ``b`` broadcast over the rows of ``a`` (a bias); its gradient is summed back.

    Examples
    --------
    >>> add(Node([[1.0, 2.0], [3.0, 4.0]]), Node([10.0, 20.0])).value.tolist()
    [[11.0, 22.0], [13.0, 24.0]]
    """

    def rule(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g_b = g
        while g_b.ndim > b.value.ndim:
            g_b = g_b.sum(axis=0)
        for axis, size in enumerate(b.value.shape):
            if size == 1 and g_b.shape[axis] != 1:
                g_b = g_b.sum(axis=axis, keepdims=True)
        return g, g_b

    return Node(a.value + b.value, (a, b), rule)


def square(a: Node) -> Node:
    """``a²`` elementwise; gradient ``2 a ḡ``.

    Examples
    --------
    >>> square(Node([3.0])).value.tolist()
    [9.0]
    """
    return Node(a.value**2, (a,), lambda g: (2 * a.value * g,))


def sum(a: Node) -> Node:  # noqa: A001 - the name of the operation
    """The sum of all entries; gradient ``ḡ`` spread over every entry.

    Examples
    --------
    >>> sum(Node([[1.0, 2.0], [3.0, 4.0]])).value.item()
    10.0
    """
    return Node(a.value.sum(), (a,), lambda g: (np.full_like(a.value, g),))


def scale(a: Node, c: float) -> Node:
    """``c · a`` for a constant ``c``.

    Examples
    --------
    >>> scale(Node([2.0]), 0.5).value.tolist()
    [1.0]
    """
    return Node(c * a.value, (a,), lambda g: (c * g,))


def softmax_cross_entropy(logits: Node, y: np.ndarray) -> Node:
    r"""Mean cross-entropy of the rows of ``logits`` against class indices ``y``.

    :math:`\ell = \frac1n \sum_i \bigl(\log\sum_j e^{o_{ij}} - o_{i y_i}\bigr)`, computed as
    log-softmax after subtracting each row's maximum; gradient
    :math:`(\operatorname{softmax}(o) - \operatorname{onehot}(y)) / n`.

    Examples
    --------
    >>> round(softmax_cross_entropy(Node([[0.0, 0.0]]), np.array([1])).value.item(), 4)
    0.6931
    """
    o = logits.value
    shifted = o - o.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    rows = np.arange(n)

    def rule(g: np.ndarray) -> tuple[np.ndarray]:
        d = np.exp(log_p)
        d[rows, y] -= 1.0
        return (g * d / n,)

    return Node(-log_p[rows, y].mean(), (logits,), rule)


def _sgd(params: list[Node], lr: float) -> None:
    for p in params:
        p.value = p.value - lr * p.grad
        p.zero_grad()


def train_linear(
    X: np.ndarray, y: np.ndarray, *, lr: float = 0.03, batch_size: int = 10, epochs: int = 3,
    seed: int = 0,
) -> tuple[np.ndarray, float, list[float]]:  # fmt: skip
    r"""Linear regression by minibatch SGD on the graph: loss :math:`\frac1{2|B|}\sum (Xw+b-y)^2`.

    Returns ``(w, b, losses)`` with the mean loss over all the data after each epoch.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2))
    >>> w, b, losses = train_linear(X, X @ [2.0, -3.4] + 4.2, epochs=10)
    >>> np.round(w, 3).tolist(), round(b, 3)
    ([2.0, -3.4], 4.2)
    """
    rng = np.random.default_rng(seed)
    w, b = Node(rng.normal(0, 0.01, (X.shape[1], 1))), Node(np.zeros(1))
    y = np.asarray(y, dtype=np.float64).reshape(-1, 1)

    def loss(Xb: np.ndarray, yb: np.ndarray) -> Node:
        residual = add(add(matmul(Node(Xb), w), b), Node(-yb))
        return scale(sum(square(residual)), 0.5 / len(yb))

    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = order[start : start + batch_size]
            loss(X[idx], y[idx]).backward()
            _sgd([w, b], lr)
        losses.append(loss(X, y).value.item())
    return w.value.ravel(), b.value.item(), losses


def train_softmax(
    X: np.ndarray, y: np.ndarray, num_classes: int, *, lr: float = 0.1, batch_size: int = 256,
    epochs: int = 10, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[float]]:  # fmt: skip
    """Softmax regression by minibatch SGD on the graph; returns ``(W, b, losses)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> W, b, losses = train_softmax(X, y, 2, lr=0.5, batch_size=30, epochs=20)
    >>> float(((X @ W + b).argmax(axis=1) == y).mean()) > 0.95
    True
    """
    rng = np.random.default_rng(seed)
    W, b = Node(rng.normal(0, 0.01, (X.shape[1], num_classes))), Node(np.zeros(num_classes))
    y = np.asarray(y)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = order[start : start + batch_size]
            softmax_cross_entropy(add(matmul(Node(X[idx]), W), b), y[idx]).backward()
            _sgd([W, b], lr)
        losses.append(softmax_cross_entropy(add(matmul(Node(X), W), b), y).value.item())
    return W.value, b.value, losses
