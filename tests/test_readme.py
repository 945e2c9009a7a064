"""The two READMEs: the setup and test commands CI runs, and the Chinese one kept in step."""

from __future__ import annotations

import re
from pathlib import Path

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
