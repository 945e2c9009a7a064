import inspect

from torchlinear.demos import defaults


def test_linreg_defaults_are_the_textbook_problem():
    # d2l, section 3.2: w = [2, -3.4], b = 4.2, 1000 examples, noise 0.01, lr 0.03,
    # batches of 10, three epochs
    d = defaults.LINREG_DEFAULTS
    assert (d["w"], d["b"], d["n"], d["noise"]) == ((2.0, -3.4), 4.2, 1000, 0.01)
    assert (d["lr"], d["batch_size"], d["epochs"]) == (0.03, 10, 3)


def test_the_demos_take_their_defaults_from_here():
    from torchlinear.demos.linreg import run_linreg_demo
    from torchlinear.demos.softmax import run_softmax_demo

    for function, table in [
        (run_linreg_demo, defaults.LINREG_DEFAULTS),
        (run_softmax_demo, defaults.SOFTMAX_DEFAULTS),
    ]:
        params = inspect.signature(function).parameters
        assert {name: params[name].default for name in table} == dict(table)


def test_defaults_cannot_be_changed_by_accident():
    import pytest

    with pytest.raises(TypeError):
        defaults.SOFTMAX_DEFAULTS["epochs"] = 1  # type: ignore[index]
