"""What every command shares: one-line errors from the parser, tables, warnings."""

import warnings

import pytest

from torchlinear.cli.base import Parser, print_table, print_warnings


def test_parser_errors_are_one_line_exit_2(capsys):
    parser = Parser(prog="torchlinear")
    parser.add_argument("--n", type=int)
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["--n", "ten"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == "torchlinear: error: argument --n: invalid int value: 'ten' (see --help)\n"


def test_print_table_keeps_pipes_and_escapes_control_characters(capsys):
    print_table(["term", "|b − b*|"], [["x\x1b[2J", "1"], ["(intercept)", "-0.5"]])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| term        | |b − b*| |"
    assert lines[2] == "| x\\x1b[2J    | 1        |"
    assert len({len(line) for line in lines}) == 1


def test_print_warnings_once_each_first_line_only(capsys, monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("did not converge\nin 100 iterations", UserWarning, stacklevel=1)
        warnings.warn("did not converge\nagain", UserWarning, stacklevel=1)
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
    print_warnings(caught)
    assert capsys.readouterr().err == "torchlinear: warning: did not converge\n"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    print_warnings(caught[:1])
    assert capsys.readouterr().err == "torchlinear: warning (rank 1): did not converge\n"
