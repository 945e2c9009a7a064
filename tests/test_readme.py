"""The two READMEs: the setup and test commands CI runs, and the Chinese one kept in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EN = (ROOT / "README.md").read_text(encoding="utf-8")
ZH = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci in EN and ci in ZH


def test_every_chinese_code_block_is_one_of_the_english_readme():
    english = set(_code_blocks(EN))
    missing = [block[:60] for block in _code_blocks(ZH) if block not in english]
    assert not missing, f"code blocks of README.zh-CN.md not in README.md: {missing}"


def test_chinese_readme_uses_the_books_terms():
    for banned in ("对数几率", "教科书", "轮次", "每轮"):
        assert banned not in ZH, banned
    assert "《动手学深度学习》" in ZH and "README.md" in ZH


# --- the README's option lists are argparse's, and its output blocks what the code prints ---

_FENCE = re.compile(r"```([a-z]*)\n(.*?)```", flags=re.S)


def _fenced(text: str) -> list[tuple[str, str, int]]:
    """Every fenced block as (language, body, offset of its end)."""
    return [(m.group(1), m.group(2), m.end()) for m in _FENCE.finditer(text)]


def _section(title: str) -> str:
    start = EN.index(f"\n## {title}")
    end = EN.find("\n## ", start + 1)
    return EN[start:end]


def _long_options(parser) -> set[str]:
    return {
        flag
        for action in parser._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag not in ("--help", "--version")
    }


def _subparsers():
    from torchlinear.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices


def _mentioned(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))


def _option_list(command: str) -> str:
    """The README's list item for ``command`` (the demo's options are a paragraph of their own)."""
    if command == "demo":
        section = _section("The demo")
        return section[section.index("Options:") :]
    section = _section("Your own files: the command line")
    match = re.search(rf"\n- `{command}\b.*?(?=\n- `|\n\n)", section, flags=re.S)
    assert match, f"README.md has no option list for {command!r}"
    return match.group(0)


def test_every_command_option_is_in_the_readme():
    """Each long option of every command is in that command's README option list."""
    missing = {
        f"{name} {flag}"
        for name, parser in _subparsers().items()
        for flag in _long_options(parser) - _mentioned(_option_list(name))
    }
    assert not missing, f"options missing from README.md's lists: {sorted(missing)}"


def test_every_option_the_readme_lists_exists():
    """The option lists name no flag that the command does not have."""
    for name, parser in _subparsers().items():
        unknown = _mentioned(_option_list(name)) - _long_options(parser)
        assert not unknown, f"README lists options {sorted(unknown)} that {name!r} lacks"


_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:e[+-]?\d+)?")
_TIME = re.compile(r"\d+(?:\.\d+)? (?:ms|s)\b")
_RUN_DIR = re.compile(r"runs/[\w.…-]+/")


def _normalized(text: str) -> list[str]:
    """Lines with times and run folders masked and table padding collapsed."""
    lines = []
    for line in text.strip().splitlines():
        line = _RUN_DIR.sub("RUN/", _TIME.sub("TIME", line))
        if line.startswith("|"):
            line = "|".join(cell.strip() for cell in line.split("|"))
            line = re.sub(r"-{3,}", "---", line)
        lines.append(line.rstrip())
    return lines


def _same_output(printed: str, documented: str) -> None:
    """Lines agree word for word; numbers to 0.1% (float32 rounding differs across CPUs)."""
    got, want = _normalized(printed), _normalized(documented)
    if want[-1] == "...":  # the README shows the head of a long output
        want = want[:-1]
        got = got[: len(want)]
    assert len(got) == len(want), f"{len(got)} lines printed, README shows {len(want)}"
    for line_got, line_want in zip(got, want, strict=True):
        assert _NUMBER.sub("#", line_got) == _NUMBER.sub("#", line_want), (line_got, line_want)
        for a, b in zip(_NUMBER.findall(line_got), _NUMBER.findall(line_want), strict=True):
            x, y = float(a.replace(",", "")), float(b.replace(",", ""))
            assert abs(x - y) <= 1e-3 * abs(y) + 1e-5, (line_got, line_want)


def _python_blocks_with_output() -> list[tuple[str, str]]:
    """Each python block that is followed directly by an output block."""
    blocks = _fenced(EN)
    pairs = []
    for (lang, body, end), (next_lang, next_body, _) in zip(blocks, blocks[1:], strict=False):
        gap = EN[end : EN.index("```" + next_lang + "\n" + next_body, end)]
        if lang == "python" and next_lang == "" and not gap.strip():
            # a print whose output is shown in its own comment comes before the block
            shown = re.findall(r"^print\(.*\)  # (.*)$", body, flags=re.M)
            pairs.append((body, "".join(line + "\n" for line in shown) + next_body))
    return pairs


def test_readme_shows_output_blocks_after_python_snippets():
    assert len(_python_blocks_with_output()) >= 2


@pytest.mark.parametrize("index", range(len(_python_blocks_with_output())))
def test_python_output_blocks_are_what_the_snippet_prints(index, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, output = _python_blocks_with_output()[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
    _same_output(capsys.readouterr().out, output)


def _block_after(marker: str) -> str:
    """The first plain output block after the README text ``marker``."""
    start = EN.index(marker)
    lang, body, _ = next(b for b in _fenced(EN[start:]) if b[0] == "")
    return body


@pytest.mark.parametrize(
    "argv, marker",
    [
        (["demo", "--no-progress"], "## The demo"),
        (["demo", "softmax", "--no-progress"], "`torchlinear demo softmax` puts it all together"),
    ],
)
def test_demo_output_blocks_are_what_the_demo_prints(argv, marker, capsys, tmp_path):
    from torchlinear.cli import main

    assert main([*argv, "--out", str(tmp_path / "runs" / "demo-x")]) == 0
    printed = capsys.readouterr().out.replace(str(tmp_path) + "/", "")
    _same_output(printed, _block_after(marker))
