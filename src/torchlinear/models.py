r"""The models as ``torch.nn`` modules: linear, softmax head, two-layer MLP.

========================  ==============================================================
:class:`LinearModel`      :math:`\hat y = x W^\top + b`, ``d -> k`` outputs
:class:`SoftmaxHead`      the same map read as class logits, :math:`\operatorname{softmax}`
                          gives probabilities
:class:`MLP`              :math:`\hat y = \operatorname{ReLU}(x W_1^\top + b_1) W_2^\top + b_2`
:class:`Standardized`     any of them behind a fixed feature standardization
========================  ==============================================================

Initialisation is explicit and seeded: weights are drawn from a private
``torch.Generator`` on the CPU (so the same seed gives the same model on every device),
never from torch's global generator. With one regression output a model returns shape
``(n,)``, matching the target, so no ``(n, 1)`` prediction ever meets an ``(n,)`` target.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from torchlinear._memory import check_memory
from torchlinear._validation import check_positive_int

__all__ = ["LinearModel", "MLP", "SoftmaxHead", "Standardized", "build_model"]


def _generator(seed: int | None, generator: torch.Generator | None) -> torch.Generator:
    if generator is not None:
        return generator
    g = torch.Generator()
    if seed is None:
        g.seed()
    else:
        g.manual_seed(int(seed))
    return g


def _empty_linear(
    n_in: int, n_out: int, bias: bool, dtype: torch.dtype | None, device
) -> nn.Linear:
    # Built on the meta device so nn.Linear's own initialisation (which draws from the
    # global generator) never runs; the caller fills the parameters. Every model's layers
    # are made here, so here their size is checked first (with gradients and two
    # optimizer moments: four copies).
    itemsize = torch.finfo(dtype).bits // 8 if dtype is not None else 4
    check_memory(
        4 * itemsize * (n_in + bias) * n_out,
        f"{n_in:,} inputs x {n_out:,} outputs",
        "a layer's parameters, gradients and optimizer state",
        advice="select fewer columns ({features}), fewer classes or a smaller {hidden}",
    )
    layer = nn.Linear(n_in, n_out, bias=bias, device="meta", dtype=dtype)
    return layer.to_empty(device=device if device is not None else "cpu")


@torch.no_grad()
def _init_normal(layer: nn.Linear, std: float, generator: torch.Generator) -> None:
    w = torch.randn(layer.weight.shape, generator=generator, dtype=torch.float64) * std
    layer.weight.copy_(w)
    if layer.bias is not None:
        layer.bias.zero_()


def _squeeze(out: torch.Tensor, squeeze: bool) -> torch.Tensor:
    return out.squeeze(-1) if squeeze else out


class LinearModel(nn.Module):
    r"""A linear map :math:`\hat y = x W^\top + b` from ``d`` features to ``k`` outputs.

    Parameters
    ----------
    n_features : int
        Input width ``d``.
    n_outputs : int, default 1
        Output width ``k``. With ``k = 1`` and ``squeeze=True`` the output has shape ``(n,)``.
    bias : bool, default True
        Learn an intercept ``b``.
    squeeze : bool, default True
        Return ``(n,)`` instead of ``(n, 1)`` when ``k = 1``.
    init : {"normal", "zeros"}, default "normal"
        Weights from :math:`\mathcal N(0, \text{std}^2)` (the textbook's 0.01) or all zero;
        the bias starts at zero either way.
    std : float, default 0.01
        Standard deviation for ``init="normal"``.
    seed, generator :
        Source of the initial weights: a seed for a private generator, or a generator.
        With neither, a fresh non-deterministic seed is used.
    dtype, device :
        Parameter dtype (default float32) and device (default CPU).

    Examples
    --------
    >>> model = LinearModel(3, seed=0)
    >>> model(torch.zeros(5, 3)).shape
    torch.Size([5])
    >>> LinearModel(3, 2, seed=0)(torch.zeros(5, 3)).shape
    torch.Size([5, 2])
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int = 1,
        *,
        bias: bool = True,
        squeeze: bool = True,
        init: str = "normal",
        std: float = 0.01,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        n_features = check_positive_int("n_features", n_features)
        n_outputs = check_positive_int("n_outputs", n_outputs)
        if init not in ("normal", "zeros"):
            raise ValueError(f"init must be 'normal' or 'zeros', got {init!r}")
        self.squeeze = squeeze and n_outputs == 1
        self.linear = _empty_linear(n_features, n_outputs, bias, dtype, device)
        if init == "zeros":
            with torch.no_grad():
                for p in self.linear.parameters():
                    p.zero_()
        else:
            _init_normal(self.linear, std, _generator(seed, generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _squeeze(self.linear(x), self.squeeze)

    def penalized_parameters(self) -> list[torch.Tensor]:
        """The parameters a penalty applies to: the weights, not the intercept."""
        return [self.linear.weight]

    @property
    def coef(self) -> torch.Tensor:
        """The weights ``W``, shape ``(k, d)`` (detached)."""
        return self.linear.weight.detach()

    @property
    def intercept(self) -> torch.Tensor | None:
        """The intercept ``b``, shape ``(k,)`` (detached), or ``None`` without bias."""
        return None if self.linear.bias is None else self.linear.bias.detach()


class SoftmaxHead(LinearModel):
    r"""Class logits :math:`o = x W^\top + b` for ``k`` classes; softmax gives probabilities.

    The forward pass returns the logits, shape ``(n, k)`` — the input that
    :func:`torch.nn.functional.cross_entropy` expects (its log-sum-exp is stable, unlike
    exponentiating first).

    Examples
    --------
    >>> head = SoftmaxHead(4, 3, seed=0)
    >>> p = head.predict_proba(torch.randn(2, 4, generator=torch.Generator().manual_seed(0)))
    >>> p.shape, bool(torch.allclose(p.sum(1), torch.ones(2)))
    (torch.Size([2, 3]), True)
    """

    def __init__(self, n_features: int, n_classes: int, **kwargs) -> None:
        n_classes = check_positive_int("n_classes", n_classes)
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        super().__init__(n_features, n_classes, squeeze=False, **kwargs)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities, shape ``(n, k)``."""
        return torch.softmax(self(x), dim=-1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable class index per row, shape ``(n,)``."""
        return self(x).argmax(dim=-1)


class MLP(nn.Module):
    r"""Two layers with a ReLU between: ``Linear(d, hidden) -> ReLU -> Linear(hidden, k)``.

    The hidden weights start from :math:`\mathcal N(0, 2/d)` (He initialisation, which
    keeps the ReLU activations' scale), the output weights from :math:`\mathcal N(0, 1/h)`;
    biases start at zero.

    Parameters
    ----------
    n_features : int
        Input width ``d``.
    hidden : int, default 64
        Hidden width ``h``.
    n_outputs : int, default 1
        Output width ``k`` (regression targets, or class logits).
    squeeze : bool, default True
        Return ``(n,)`` when ``k = 1``.
    seed, generator, dtype, device :
        As for :class:`LinearModel`.

    Examples
    --------
    >>> MLP(2, hidden=8, seed=0)(torch.zeros(4, 2)).shape
    torch.Size([4])
    """

    def __init__(
        self,
        n_features: int,
        hidden: int = 64,
        n_outputs: int = 1,
        *,
        squeeze: bool = True,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        n_features = check_positive_int("n_features", n_features)
        hidden = check_positive_int("hidden", hidden)
        n_outputs = check_positive_int("n_outputs", n_outputs)
        self.squeeze = squeeze and n_outputs == 1
        self.hidden = _empty_linear(n_features, hidden, True, dtype, device)
        self.output = _empty_linear(hidden, n_outputs, True, dtype, device)
        g = _generator(seed, generator)
        _init_normal(self.hidden, math.sqrt(2.0 / n_features), g)
        _init_normal(self.output, math.sqrt(1.0 / hidden), g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _squeeze(self.output(torch.relu(self.hidden(x))), self.squeeze)

    def penalized_parameters(self) -> list[torch.Tensor]:
        """Both weight matrices (not the biases)."""
        return [self.hidden.weight, self.output.weight]


class Standardized(nn.Module):
    r"""Apply a fixed standardization, then ``module``: ``module((x - mean) / scale)``.

    ``mean`` and ``scale`` are buffers (saved in ``state_dict``, moved by ``.to()``), so
    the model that was trained on standardized features predicts from raw features.

    Examples
    --------
    >>> inner = LinearModel(2, init="zeros")
    >>> with torch.no_grad():
    ...     _ = inner.linear.weight.fill_(1.0)
    >>> model = Standardized(inner, mean=torch.tensor([1.0, 1.0]), scale=torch.tensor([2.0, 2.0]))
    >>> model(torch.tensor([[3.0, 5.0]]))
    tensor([3.], grad_fn=<SqueezeBackward1>)
    """

    def __init__(self, module: nn.Module, mean: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.module = module
        param = next(module.parameters(), None)
        dtype = param.dtype if param is not None else torch.get_default_dtype()
        device = param.device if param is not None else None
        self.register_buffer("mean", mean.detach().to(device=device, dtype=dtype).clone())
        self.register_buffer("scale", scale.detach().to(device=device, dtype=dtype).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module((x - self.mean) / self.scale)

    def penalized_parameters(self) -> list[torch.Tensor]:
        inner = getattr(self.module, "penalized_parameters", None)
        return inner() if inner is not None else list(self.module.parameters())


def build_model(
    kind: str,
    n_features: int,
    n_outputs: int = 1,
    *,
    hidden: int = 64,
    classification: bool = False,
    bias: bool = True,
    init: str = "normal",
    seed: int | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> nn.Module:
    """Build ``"linear"`` (or a :class:`SoftmaxHead` for classification) or ``"mlp"``.

    Examples
    --------
    >>> type(build_model("linear", 3, 4, classification=True, seed=0)).__name__
    'SoftmaxHead'

    The parameters, their gradients and two optimizer moments (four float32/float64
    copies) are checked against :func:`torchlinear._memory.memory_budget` first.
    """
    n_params = (
        (n_features + 1) * n_outputs
        if kind == "linear"
        else (n_features + 1) * hidden + (hidden + 1) * n_outputs
    )
    itemsize = torch.finfo(dtype).bits // 8 if dtype is not None else 8
    check_memory(
        4 * itemsize * n_params,
        f"{n_features:,} features x {n_outputs:,} outputs"
        + (f" x {hidden:,} hidden units" if kind == "mlp" else ""),
        f"the {kind} model's {n_params:,} parameters, gradients and optimizer state",
        advice="select fewer columns ({features}), fewer classes"
        + (" or a smaller {hidden}" if kind == "mlp" else ""),
    )
    if kind == "linear":
        if classification:
            return SoftmaxHead(
                n_features, n_outputs, bias=bias, init=init, seed=seed, dtype=dtype, device=device
            )
        return LinearModel(
            n_features, n_outputs, bias=bias, init=init, seed=seed, dtype=dtype, device=device
        )
    if kind == "mlp":
        return MLP(
            n_features,
            hidden,
            n_outputs,
            squeeze=not classification,
            seed=seed,
            dtype=dtype,
            device=device,
        )
    raise ValueError(f"model must be 'linear' or 'mlp', got {kind!r}")
