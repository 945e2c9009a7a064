"""The JSON of model files (torchlinear.json_codec): nested states rebuilt exactly, and
documents refused in one line beyond their bounds."""

import json

import numpy as np
import pytest
import torch

from torchlinear.json_codec import flatten_state, parse_json_bounded, unflatten_state


def test_flatten_state_structures():
    state = {
        "a": [torch.ones(2), (1, 2.5, None)],
        3: {"inf": float("inf"), "nan": float("nan"), "s": "x", "b": True},
    }
    doc, tensors = flatten_state(state, "s")
    back = unflatten_state(json.loads(json.dumps(doc)), tensors)
    assert torch.equal(back["a"][0], torch.ones(2)) and back["a"][1] == (1, 2.5, None)
    assert back[3]["inf"] == float("inf") and np.isnan(back[3]["nan"]) and back[3]["b"] is True
    with pytest.raises(ValueError, match="missing tensor"):
        unflatten_state({"__tensor__": "s.9"}, {})


def test_parse_json_bounded_limits():
    assert parse_json_bounded(b'{"s": "[[[[", "n": [1, {"a": []}]}', "x") == {
        "s": "[[[[",
        "n": [1, {"a": []}],
    }
    with pytest.raises(ValueError, match="65 levels deep"):
        parse_json_bounded(b"[" * 65 + b"]" * 65, "x")
    with pytest.raises(ValueError, match="JSON values"):
        parse_json_bounded(b"[" + b"0," * 100 + b"0]", "x", max_items=50)
    with pytest.raises(ValueError, match="bytes, more than"):
        parse_json_bounded(b"[]" * 100, "x", max_bytes=10)
    with pytest.raises(ValueError, match="'a' appears twice"):
        parse_json_bounded(b'{"a": 1, "b": {"a": 2}, "a": 3}', "x")
