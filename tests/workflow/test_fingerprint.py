"""What a checkpoint was fitted on: a damaged fingerprint is refused in one line."""

import pytest

from torchlinear._validation import ParameterError
from torchlinear.workflow.fingerprint import FINGERPRINT_FILE, check_fingerprint

CURRENT = {"data": {"target": "y"}, "settings": {"lr": 0.1, "epochs": 10}}


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_text("[" * 100_000 + "]" * 100_000),  # a RecursionError unbounded
        lambda p: p.write_text(" " * (33 << 20) + "{}"),  # beyond the size of a sidecar
    ],
    ids=["nested", "large"],
)
def test_a_damaged_fingerprint_is_refused_before_it_is_parsed(tmp_path, make):
    make(tmp_path / FINGERPRINT_FILE)
    with pytest.raises(ParameterError, match=r"has no readable fingerprint\.json.*overwrite"):
        check_fingerprint(tmp_path, CURRENT)
