"""The options of a fit: a setting of the cross-validated search is never ignored."""

import pytest

from torchlinear._validation import ParameterError
from torchlinear.workflow.options import check_penalty


@pytest.mark.parametrize(
    ("setting", "alpha"),
    [({"cv": 3}, None), ({"cv_shuffle": True}, 1.0), ({"n_alphas": 10}, 0.5)],
)
def test_a_search_setting_without_alpha_cv_is_refused(setting, alpha):
    # --cv 3, --cv-shuffle and --n-alphas 10 were silently ignored without --alpha cv
    name = next(iter(setting))
    with pytest.raises(ParameterError, match=rf"^{name} sets the cross-validated search") as err:
        check_penalty({"alpha": alpha, "l1_ratio": 0.5, **setting})
    assert err.value.param == name and tuple(err.value.suggestions) == (("alpha", "cv"),)


def test_search_settings_at_their_defaults_or_with_alpha_cv_are_taken():
    defaults = {"cv": 5, "cv_shuffle": False, "n_alphas": 100}
    assert check_penalty({"alpha": 1.0, "l1_ratio": 0.5, **defaults})[0] == 1.0
    chosen = {"cv": 3, "cv_shuffle": True, "n_alphas": 10}
    assert check_penalty({"alpha": "cv", "l1_ratio": 0.5, **chosen}) == ("cv", (0.5,), None)
    with pytest.raises(ParameterError, match="n_alphas sizes the automatic grid"):
        check_penalty({"alpha": "cv", "l1_ratio": 0.5, "alphas": [1, 2], "n_alphas": 10})
