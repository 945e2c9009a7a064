"""The error mapper: library parameter names become the command line's flags."""

import argparse
import pickle

import pytest

from torchlinear import cli
from torchlinear._validation import (
    ParameterError,
    check_fraction,
    check_positive_float,
    check_positive_int,
    resolve_device,
)
from torchlinear.cli import errors
from torchlinear.cli.errors import FLAGS, Flag, spell, spell_setting, user_message

NOT_LIBRARY_PARAMETERS = {"help", "version", "json", "command", "topic"}


def _parsers(parser=None, name=None):
    """(command name, parser) for every command and demo topic."""
    parser = parser or cli.build_parser()
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, name or sub_name)


def _param_of(action):
    """The library parameter an option sets (``--no-progress`` sets ``progress``)."""
    return "progress" if action.dest == "no_progress" else action.dest


def test_every_option_of_every_parser_is_in_the_table():
    for command, parser in _parsers():
        for action in parser._actions:
            param = _param_of(action)
            if param in NOT_LIBRARY_PARAMETERS or isinstance(action, argparse._SubParsersAction):
                continue
            found = errors.flag(param, command)
            assert found is not None, f"{command}: {param} is missing from FLAGS"
            spelled = action.option_strings or [action.metavar]
            assert found.text in spelled, f"{command}: {param} is {spelled}, not {found.text}"


def test_every_table_entry_is_an_option_of_some_parser():
    spelled = set()
    for _, parser in _parsers():
        for action in parser._actions:
            spelled.update(action.option_strings)
            if not action.option_strings and action.metavar:
                spelled.add(action.metavar)
    for key, found in FLAGS.items():
        if found.kind == "env":
            assert found.text.startswith("$") and found.text[1:].isupper(), key
        else:
            assert found.text in spelled, f"{key}: {found.text} is no option of any command"


@pytest.mark.parametrize("key", sorted(FLAGS))
def test_every_entry_renders_a_parameter_error(key):
    command, _, param = key.rpartition(" ")
    command = command or None
    found = FLAGS[key]
    value = {"option": "x", "positional": "x", "env": "/data"}.get(found.kind, True)
    error = ParameterError(param, "{param} is wrong; pass {0}", suggestions=[(param, value)])
    text = user_message(error, command)
    setting = {
        "option": f"{found.text} x",
        "switch": found.text,
        "negated": f"no {found.text}",
        "positional": "x",
        "env": f"{found.text[1:]}=/data",
    }[found.kind]
    assert text == f"{found.text} is wrong; pass {setting}"
    assert str(error) == f"{param} is wrong; pass {param}={value!r}"  # the library's words


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        (lambda: check_positive_int("batch_size", 0), "--batch-size must be a positive integer"),
        (lambda: check_fraction("val_split", 1.5), "--val-split must lie in [0, 1), got 1.5"),
        (lambda: check_positive_float("l1_ratio", -1), "--l1-ratio must be a finite number > 0"),
        (lambda: resolve_device("cuda:banana"), "--device must be 'auto', 'cpu'"),
        (lambda: resolve_device("meta"), "--device must be 'auto', 'cpu'"),
        (lambda: resolve_device("xpu"), "--device must be 'auto', 'cpu'"),
        (lambda: resolve_device("hpu"), "--device must be 'auto', 'cpu'"),
    ],
)
def test_validation_errors_render_as_flags(check, expected):
    with pytest.raises(ParameterError) as info:
        check()
    assert user_message(info.value, "fit").startswith(expected)
    assert "--" not in str(info.value)  # the library itself speaks in parameter names


def test_other_parameters_and_suggestions_in_a_message():
    error = ParameterError(
        "solver",
        "{param} {value!r} handles an L2 penalty only; with {l1_ratio} > 0 use {0}, or {1}",
        value="exact",
        suggestions=[("solver", "auto"), ("features", ["a", "b c"])],
    )
    assert str(error) == (
        "solver 'exact' handles an L2 penalty only; with l1_ratio > 0 use solver='auto', "
        "or features=['a', 'b c']"
    )
    assert user_message(error, "fit") == (
        "--solver 'exact' handles an L2 penalty only; with --l1-ratio > 0 use --solver auto, "
        "or --features a,'b c'"
    )


def test_command_specific_spellings():
    error = ParameterError("model", "{param} {path!r} has no model.json", path="runs/x")
    assert user_message(error, "predict") == "MODEL 'runs/x' has no model.json"
    assert user_message(error, "fit") == "--model 'runs/x' has no model.json"
    assert spell("root") == "$TORCHLINEAR_DATA"
    assert spell_setting("download", True) == "--download"
    assert spell_setting("download", False) == "no --download"
    assert spell_setting("progress", False) == "--no-progress"
    assert spell_setting("val_split", 0.25) == "--val-split 0.25"
    assert spell_setting("lr", 1.0) == "--lr 1"
    assert spell_setting("unknown_param", 3) == "unknown_param=3"  # no flag: library words


@pytest.mark.parametrize(
    "message",
    [
        "model 'softmax' is a classifier, but the task is regression; use --task classification",
        "no column 'price' for the target; the columns are 'a', 'b', 'y'",
        "streamed gradient training is not supported across ranks yet; use --stream false",
    ],
)
def test_a_plain_value_error_passes_through(message):
    assert user_message(ValueError(message), "fit") == message


def test_only_the_first_line_is_shown():
    assert user_message(ValueError("first\nsecond")) == "first"
    assert user_message(OSError()) == "OSError"


def test_a_shared_rank_failure_is_printed_by_rank_0_only(monkeypatch, capsys):
    from torchlinear.distributed.group import REPORTED_BY_RANK_0, RankFailedError

    monkeypatch.setenv("WORLD_SIZE", "2")
    original = ParameterError("lr", "{param} must be > 0, got {value!r}", value=-1.0)
    failed = pickle.loads(pickle.dumps(RankFailedError("rank 1 failed: ...", 1, original)))
    monkeypatch.setenv("RANK", "0")  # rank 0 prints the failing rank's error, in flags
    assert errors.is_user_error(failed)
    assert errors.fail(failed, "fit") == 2
    assert capsys.readouterr().err == "torchlinear: error (rank 1): --lr must be > 0, got -1.0\n"
    assert errors.fail(RankFailedError("rank 1 failed: bad data\ndetail", 1)) == 2
    assert capsys.readouterr().err == "torchlinear: error (rank 1): rank 1 failed: bad data\n"
    monkeypatch.setenv("RANK", "1")  # the failing rank is silent once rank 0 has its error
    setattr(original, REPORTED_BY_RANK_0, True)
    assert errors.fail(original, "fit") == 2
    assert errors.fail(failed, "fit") == 2
    assert capsys.readouterr().err == ""
    assert errors.fail(ValueError("bad data")) == 2  # an error it kept to itself
    assert capsys.readouterr().err == "torchlinear: error (rank 1): bad data\n"


def test_a_parameter_error_survives_pickling():
    error = ParameterError("lr", "{param} must be > 0, got {value!r}; try {0}", value=-1.0,
                           suggestions=[("lr", 0.1)], where="row 3")  # fmt: skip
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.param, copy.value, copy.suggestions, copy.facts) == (
        "lr", -1.0, (("lr", 0.1),), {"where": "row 3"},
    )  # fmt: skip
    assert user_message(copy, "fit") == "--lr must be > 0, got -1.0; try --lr 0.1"


def test_summary_max_rows_end_to_end(capsys):
    assert cli.main(["summary", "nowhere", "--max-rows", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "torchlinear: error: --max-rows must be a positive integer, got 0\n"


def test_flag_kinds_are_known():
    assert {f.kind for f in FLAGS.values()} <= {"option", "switch", "negated", "positional", "env"}
    assert Flag("--x").setting([1.5, 2.0]) == "--x 1.5,2"


def test_a_huge_message_is_shortened_keeping_its_start_and_advice(capsys):
    label = "z" * 1_000_000
    assert errors.fail(ValueError(f"the target has one class ({label!r}); use --task x"), "fit")
    line = capsys.readouterr().err
    assert line.count("\n") == 1 and len(line) <= errors.MAX_LINE + 40
    assert line.startswith("torchlinear: error: the target has one class ('zzz")
    assert line.rstrip().endswith("zzz'); use --task x")


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_an_os_refusal_names_the_path_and_what_to_do(tmp_path, capsys, command):
    data = tmp_path / "d.csv"
    data.write_text("a,y\n1,2\n2,4\n3,7\n4,8\n")
    long_name = tmp_path / ("n" * 300)
    if command == "fit":
        argv = ["fit", str(data), "--target", "y", "--out", str(long_name), "--no-progress"]
    else:
        model = tmp_path / "model"
        assert cli.main(["fit", str(data), "--target", "y", "--out", str(model)]) == 0
        capsys.readouterr()
        argv = ["predict", str(model), str(data), "-o", f"{long_name}.csv"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Errno" not in err, err
    assert err.rstrip().endswith(
        "file name too long; choose a shorter path (a name has at most 255 bytes on most systems)"
    ), err
    expected = {"d.csv"} if command == "fit" else {"d.csv", "model"}
    assert {p.name for p in tmp_path.iterdir()} == expected


def test_os_errors_without_a_path_pass_through():
    import errno as errno_codes

    assert user_message(OSError(errno_codes.ENOSPC, "No space left on device")) == (
        "[Errno 28] No space left on device"
    )


def test_memory_the_system_refuses_is_one_line_naming_the_budget():
    # PyTorch's allocator under a limit such as ulimit -v: a traceback before
    from torchlinear.cli.errors import is_user_error, user_message

    refused = RuntimeError(
        "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
        "memory: you tried to allocate 33360000 bytes. Error code 12"
    )
    for exc in (refused, MemoryError()):
        assert is_user_error(exc)
        text = user_message(exc, "fit")
        assert "refused memory" in text and "lower --memory-limit" in text
    assert not is_user_error(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
