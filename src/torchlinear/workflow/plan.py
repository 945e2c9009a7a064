"""The route of a fit (:class:`~torchlinear.workflow.settings.Plan`): which estimator and
optimizer fit the task, model and loss, and the options that only some routes take."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchlinear._validation import ParameterError
from torchlinear.workflow.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_DELTA,
    DEFAULT_HIDDEN,
    EXACT_ROUTES,
    Options,
    Plan,
)

if TYPE_CHECKING:
    from torchlinear.data.tabular import Task


def plan_route(opts: Options, task: Task, streamed: bool) -> Plan:
    """The route of a fit: which estimator and optimizer fit this task, model and loss."""
    if task == "classification":
        model, loss = check_classification(opts)
    else:
        model, loss = check_regression(opts)
    if opts.positive:
        check_positive(opts, task, model, loss)
    if opts.alpha_cv:
        check_alpha_cv(opts, task, model, loss)
        return Plan(task, model, loss, "enet-cv", "cd", opts.epochs)
    assert not isinstance(opts.alpha, str)
    alpha = opts.alpha or 0.0
    check_solver(opts, task, model, loss, alpha)
    if model == "linear":
        return linear_plan(opts, task, loss, alpha, streamed)
    if model == "softmax":
        if opts.solver in ("auto", "lbfgs") and not streamed:
            return Plan(task, model, loss, "softmax-lbfgs", "lbfgs", opts.epochs)
        optimizer = "adam" if opts.solver == "auto" else opts.solver
        return Plan(task, model, loss, "softmax", optimizer, opts.epochs)
    optimizer = "adam" if opts.solver == "auto" else opts.solver
    return Plan(task, model, loss, "mlp", optimizer, opts.epochs)


def check_classification(opts: Options) -> tuple[str, str]:
    """The model and loss of a classification (``linear`` is softmax regression)."""
    model = "softmax" if opts.model == "linear" else opts.model
    loss = opts.loss or "ce"
    if loss != "ce":
        raise ParameterError(
            "loss",
            "{param} {value!r} is a regression loss; classification uses 'ce' "
            "(cross-entropy): leave out {param}, or use {0}",
            value=loss,
            suggestions=[("task", "regression")],
        )
    if opts.l1_ratio > 0 and model == "softmax":
        raise ParameterError(
            "l1_ratio",
            "{param}: softmax regression takes an L2 penalty only; use {0} for an "
            "elastic-net penalty, or leave out {param}",
            value=opts.l1_ratio,
            suggestions=[("model", "mlp")],
        )
    return model, loss


def check_regression(opts: Options) -> tuple[str, str]:
    """The model and loss of a regression."""
    if opts.model == "softmax":
        raise ParameterError(
            "model",
            "{param} 'softmax' is a classifier, but the task is regression; use {0} "
            "(or a text target column), or {1}",
            value="softmax",
            suggestions=[("task", "classification"), ("model", "linear")],
        )
    loss = opts.loss or "squared"
    if loss == "ce":
        raise ParameterError(
            "loss",
            "{param} 'ce' (cross-entropy) is for classification; use {0}",
            value="ce",
            suggestions=[("task", "classification")],
        )
    return opts.model, loss


def _least_squares_only(
    opts: Options, task: Task, model: str, loss: str, param: str, value: Any, what: str
) -> None:
    """Refuse ``param`` (which ``what``) outside exact least squares: another task, model,
    loss, or a solver other than the exact one."""
    if not (task == "regression" and model == "linear" and loss == "squared"):
        raise ParameterError(
            param,
            "{param} " + what + " (regression, linear model, squared loss); this fit is "
            "{kind} with model {model_kind!r} and loss {loss_kind!r}: "
            + ("give {param} a number" if param == "alpha" else "leave out {param}"),
            value=value,
            kind=task,
            model_kind=model,
            loss_kind=loss,
        )
    if opts.solver not in ("auto", "exact"):
        raise ParameterError(
            "solver",
            "{param} {value!r}: {" + param + "} " + what + ", solved exactly from the "
            "statistics of one pass; use {0}",
            value=opts.solver,
            suggestions=[("solver", "auto")],
        )


def check_alpha_cv(opts: Options, task: Task, model: str, loss: str) -> None:
    """``alpha="cv"`` is the cross-validated penalized least-squares path only."""
    what = "'cv' cross-validates the penalized least-squares path"
    _least_squares_only(opts, task, model, loss, "alpha", "cv", what)


def check_positive(opts: Options, task: Task, model: str, loss: str) -> None:
    """``positive`` constrains least squares (regression, linear model, squared loss),
    which is solved exactly on the statistics."""
    _least_squares_only(opts, task, model, loss, "positive", True, "constrains least squares")


def check_solver(opts: Options, task: Task, model: str, loss: str, alpha: float) -> None:
    """Refuse a solver that cannot fit this problem."""
    if opts.solver == "exact" and not (
        task == "regression" and model == "linear" and loss == "squared"
    ):
        raise ParameterError(
            "solver",
            "{param} 'exact' solves least squares only (regression, linear model, squared "
            "loss); this fit is {kind} with model {model_kind!r} and loss {loss_kind!r}: "
            "use {param} auto, sgd, adam or lbfgs",
            value="exact",
            kind=task,
            model_kind=model,
            loss_kind=loss,
        )
    if opts.solver == "lbfgs" and opts.l1_ratio > 0 and alpha > 0:
        raise ParameterError(
            "solver",
            "{param} 'lbfgs' cannot handle an L1 penalty ({l1_ratio} > 0); use {param} sgd or adam",
            value="lbfgs",
        )


def linear_plan(opts: Options, task: Task, loss: str, alpha: float, streamed: bool) -> Plan:
    """The route of a linear model: exact, coordinate descent or gradient training."""
    solver = opts.solver
    if opts.positive:  # non-negative least squares: the exact penalized route
        return Plan(task, "linear", loss, "enet", "cd", opts.epochs)
    exact = loss == "squared" and (opts.l1_ratio == 0 or alpha == 0)
    if solver == "exact" and not exact:  # an L1 part: exact coordinate descent
        return Plan(task, "linear", loss, "enet", "cd", opts.epochs)
    if solver == "exact" or (solver == "auto" and exact):
        return Plan(task, "linear", loss, "exact", None, None)
    if solver == "auto" and loss == "squared":  # an L1 part: exact coordinate descent
        return Plan(task, "linear", loss, "enet", "cd", opts.epochs)
    optimizer = solver
    if solver == "auto":
        smooth = loss == "huber" and (opts.l1_ratio == 0 or alpha == 0)
        optimizer = "lbfgs" if smooth and not streamed else "adam"
        # in memory, least absolute deviations (a linear program) is solved exactly
        if loss == "l1" and (alpha == 0 or opts.l1_ratio == 1) and not streamed:
            optimizer = "auto"
    return Plan(task, "linear", loss, "linear", optimizer, opts.epochs)


def _closed_form(plan: Plan) -> str | None:
    """How this route solves without gradient steps, or ``None`` when it takes them."""
    if plan.route == "exact":
        return "exact least squares"
    if plan.route in ("enet", "enet-cv"):
        return "exact coordinate descent"
    if plan.route == "softmax-lbfgs":
        return "full-batch L-BFGS"
    if plan.route == "linear" and plan.optimizer == "auto":
        return "least absolute deviations, solved exactly as a linear program"
    return None


def unused_settings(plan: Plan) -> set[str]:
    """The settings this route ignores: the step size, minibatches and epochs of gradient
    training on a fit solved without them (coordinate descent and L-BFGS do iterate), the
    minibatches of full-batch L-BFGS, the MLP's width on another model, Huber's threshold
    with another loss, the cap on the classes of a regression.

    Examples
    --------
    >>> sorted(unused_settings(Plan("regression", "linear", "squared", "exact", None, None)))
    ['batch_size', 'delta', 'epochs', 'hidden', 'lr', 'max_classes', 'patience']
    """
    unused = set()
    if _closed_form(plan) is not None:
        unused |= {"lr", "batch_size", "patience"}
        if plan.route not in ("enet", "enet-cv", "softmax-lbfgs"):
            unused.add("epochs")
    if plan.optimizer == "lbfgs":
        unused.add("batch_size")
    if plan.model != "mlp":
        unused.add("hidden")
    if plan.loss != "huber":
        unused.add("delta")
    if plan.task != "classification":
        unused.add("max_classes")
    return unused


def check_unused_options(opts: Options, plan: Plan) -> None:
    """Refuse a setting this fit would ignore (:func:`unused_settings`), so that nobody
    believes it took effect; and an L1 share of no penalty. A setting left at its default
    is never refused."""
    unused = unused_settings(plan)
    gradient = [("solver", "adam")] if plan.model != "mlp" else []
    by_gradient = ", or train by gradient with {0}" if gradient else ""
    refusals = {  # setting: (whether it was given, why it is refused, what to do instead)
        "lr": (
            opts.lr is not None,
            "{param} is the step size of gradient training; this fit ({kind}) takes no "
            "steps: leave out {param}" + by_gradient,
            gradient,
        ),
        "epochs": (
            opts.epochs is not None,
            "{param} counts the passes of gradient training; this fit ({kind}) is solved "
            "without them: leave out {param}" + by_gradient,
            gradient,
        ),
        "batch_size": (
            opts.batch_size != DEFAULT_BATCH_SIZE,
            "{param} sizes the minibatches of gradient training; this fit ({kind}) uses "
            "every row at once: leave out {param}, or use {0}",
            [("solver", "adam")],
        ),
        "hidden": (
            opts.hidden != DEFAULT_HIDDEN,
            "{param} is the width of the MLP's hidden layer; this fit is a {model} model: "
            "add {0}, or leave out {param}",
            [("model", "mlp")],
        ),
        "max_classes": (
            opts.max_classes is not None,
            "{param} caps the classes of a classification; this fit is a regression of a "
            "numeric target: leave out {param}, or add {0}",
            [("task", "classification")],
        ),
        "delta": (
            opts.delta != DEFAULT_DELTA,
            "{param} is the threshold of the Huber loss; this fit's loss is {loss!r}: add "
            "{0}, or leave out {param}",
            [("loss", "huber")],
        ),
    }
    for name, (given, template, suggestions) in refusals.items():
        if given and name in unused:
            raise ParameterError(
                name,
                template,
                value=getattr(opts, name),
                suggestions=suggestions,
                kind=_closed_form(plan) or "full-batch L-BFGS",
                model=plan.model,
                loss=plan.loss,
            )
    if not opts.alpha_cv and opts.l1_ratio > 0 and not opts.alpha:
        raise ParameterError(
            "l1_ratio",
            "{param} {value:g} is the L1 share of the penalty {alpha}, which is 0: give "
            "{alpha} > 0, or leave out {param}",
            value=opts.l1_ratio,
        )


def check_route_options(opts: Options, plan: Plan) -> None:
    """Refuse the options this route does not take: ``resume`` and ``patience`` need
    minibatch training, ``cov_type`` exact unpenalised least squares; and the settings
    :func:`check_unused_options` finds without effect."""
    check_unused_options(opts, plan)
    if opts.resume and plan.route in (*EXACT_ROUTES, "softmax-lbfgs"):
        raise ParameterError(
            "resume",
            "{param} continues minibatch training; this fit ({kind}) has no checkpoints: "
            "leave out {param}",
            value=True,
            kind="exact least squares" if plan.route in EXACT_ROUTES else "L-BFGS",
        )
    if opts.cov_type != "nonrobust" and (plan.route != "exact" or opts.penalised):
        _refuse_cov(opts, plan)
    if opts.patience is not None and plan.route in (*EXACT_ROUTES, "softmax-lbfgs"):
        raise ParameterError(
            "patience",
            "{param} (early stopping) applies to minibatch training only",
            value=opts.patience,
        )
    if opts.patience is not None and opts.val_split == 0:
        raise ParameterError(
            "patience",
            "{param} (early stopping) watches the validation loss, but {val_split} is 0: "
            "hold out rows with {val_split} > 0, or leave out {param}",
            value=opts.patience,
        )


def _refuse_cov(opts: Options, plan: Plan) -> None:
    """Refuse robust covariances (``cov_type``) on a fit that is not exact unpenalised
    least squares, saying which setting makes it another fit."""
    if plan.task != "regression" or plan.model != "linear":
        why, fix = "this fit is {task} with model {model!r}", ""
    elif plan.loss != "squared":
        why, fix = "this fit's {loss} is {loss_value!r}", "leave out {loss}, or "
    elif opts.penalised:
        why, fix = "this fit is penalised by {alpha}", "leave out {alpha}, or "
    else:
        why = "this fit is trained by gradient steps ({solver} {solver_value})"
        fix = "leave out {solver} (least squares is then solved exactly), or "
    raise ParameterError(
        "cov_type",
        "{param} {value} (robust standard errors) needs exact unpenalised least squares; "
        + why
        + ": "
        + fix
        + "leave out {param}",
        value=opts.cov_type,
        task=plan.task,
        model=plan.model,
        loss_value=plan.loss,
        solver_value=opts.solver,
    )
