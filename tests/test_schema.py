"""The declarations of a JSON document's shape, and their one-line refusals."""

import math

import pytest

from torchlinear._schema import (
    Anything,
    Bool,
    Either,
    Int,
    ListOf,
    MapOf,
    Maybe,
    Null,
    Num,
    Record,
    SchemaError,
    Str,
    Switch,
    Tagged,
    check_document,
)

SPEC = Record(
    {
        "rank": Int(low=0),
        "weight": Num(low=0, above=True, high=math.inf),
        "cond": Num(low=0, nan=True),
        "solver": Str(("qr", "svd")),
        "names": Maybe(ListOf(Str())),
        "pair": ListOf(Num(), min_len=2, max_len=2),
        "entry": Tagged({"value": Record({"value": Num()}), "tensor": Record({"tensor": Str()})}),
        "flag": Bool(),
        "levels": MapOf(ListOf(Either((Str(), Num())))),
        "none": Null(),
    },
    optional=("none",),
)
GOOD = {
    "rank": 2,
    "weight": 3.5,
    "cond": math.nan,
    "solver": "qr",
    "names": None,
    "pair": [1, 2.5],
    "entry": {"tensor": "coef"},
    "flag": False,
    "levels": {"city": ["Rome", 2]},
}


def test_a_document_as_declared_passes():
    check_document(GOOD, SPEC)
    check_document({**GOOD, "names": ["a"], "weight": math.inf, "none": None}, SPEC)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rank": None}, "'rank' must be an integer >= 0, got None"),
        ({"rank": True}, "'rank' must be an integer >= 0, got True"),
        ({"rank": -1}, "'rank' must be an integer >= 0, got -1"),
        ({"weight": 0}, "'weight' must be a number > 0 and <= inf, got 0"),
        ({"weight": math.nan}, "'weight' must be a number > 0 and <= inf, got nan"),
        ({"cond": "1"}, "'cond' must be a number >= 0 or NaN, got '1'"),
        ({"solver": "lu"}, "'solver' must be one of 'qr', 'svd', got 'lu'"),
        ({"names": ["a", 3]}, "'names[1]' must be a string, got 3"),
        ({"names": "a"}, "'names' must be a list of strings or null, got 'a'"),
        ({"pair": [1]}, "'pair' must be a list of numbers (2), got a list of 1 value(s)"),
        ({"entry": {"value": "x"}}, "'entry.value' must be a number, got 'x'"),
        (
            {"entry": {"value": 1, "tensor": "c"}},
            "'entry' must be an object with one of the fields 'value', 'tensor', got an "
            "object with field(s) 'value', 'tensor'",
        ),
        ({"flag": 0}, "'flag' must be true or false, got 0"),
        ({"levels": {"city": [None]}}, "'levels.city[0]' must be a string or a number, got None"),
        ({"none": 1}, "'none' must be null, got 1"),
        ({"extra": 1}, "'extra' must be absent (not a field of the document), got 1"),
    ],
)
def test_each_kind_of_wrong_field_is_named_in_one_line(change, message):
    with pytest.raises(SchemaError) as info:
        check_document({**GOOD, **change}, SPEC)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_a_missing_field_and_a_document_of_another_kind():
    document = dict(GOOD)
    del document["rank"]
    with pytest.raises(SchemaError, match=r"'rank' must be an integer >= 0, got nothing \(the"):
        check_document(document, SPEC)
    with pytest.raises(SchemaError, match="^the document must be an object, got a list of 0"):
        check_document([], SPEC)


def test_switch_checks_the_case_its_field_names_and_errors_name_the_file():
    spec = Switch(
        "class", {"A": Record({"class": Str(), "n": Int()}), "B": Record({}, others=Anything())}
    )
    check_document({"class": "A", "n": 1}, spec)
    with pytest.raises(SchemaError) as info:
        check_document({"class": "C"}, spec)
    located = info.value.located("model file 'm'", "re-save it")
    assert str(located) == "model file 'm': 'class' must be one of 'A', 'B', got 'C'; re-save it"
    assert located.field == "class"


def test_the_error_crosses_to_other_processes_whole():
    """torchrun sends one rank's error to the others pickled."""
    import pickle

    error = SchemaError(("a", 0), "an integer", None).located("model file 'm'", "re-save it")
    again = pickle.loads(pickle.dumps(error))
    assert (
        str(again)
        == str(error)
        == "model file 'm': 'a[0]' must be an integer, got None; re-save it"
    )
    assert again.field == "a[0]"
