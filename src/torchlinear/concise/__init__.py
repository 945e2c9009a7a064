"""The concise versions: the same models from ``torch.nn``, ``torch.optim`` and ``DataLoader``."""

from torchlinear.concise.linreg import half_mse, linreg_net, train_concise
from torchlinear.concise.softmax import (
    ConciseSoftmaxFit,
    evaluate_net,
    softmax_net,
    train_softmax_concise,
)

__all__ = [
    "half_mse",
    "linreg_net",
    "train_concise",
    "ConciseSoftmaxFit",
    "evaluate_net",
    "softmax_net",
    "train_softmax_concise",
]
