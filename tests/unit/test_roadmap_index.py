"""docs/roadmap.md stays true: the roadmap's tree (docs/roadmap-tree.md), and only paths that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INDEX = ROOT / "docs" / "roadmap.md"
TREE = ROOT / "docs" / "roadmap-tree.md"
TREE_LINE = re.compile(r"^(\s*)- (.*)$")


def tree_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if TREE_LINE.match(line)]


def test_every_named_path_exists() -> None:
    paths = re.findall(r"`([^`]+)`", "\n".join(tree_lines(INDEX.read_text())))
    assert paths
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert missing == []


def test_every_leaf_has_paths_or_is_planned() -> None:
    lines = tree_lines(INDEX.read_text())
    for index, line in enumerate(lines):
        depth = len(TREE_LINE.match(line).group(1))  # type: ignore[union-attr]
        following = lines[index + 1] if index + 1 < len(lines) else None
        is_leaf = following is None or len(TREE_LINE.match(following).group(1)) <= depth  # type: ignore[union-attr]
        if is_leaf:
            assert re.search(r" — (planned|`[^`]+`(, `[^`]+`)*)$", line), line
        else:
            assert " — " not in line, line


def test_tree_matches_the_roadmap() -> None:
    """Line for line, indentation included; a missing tree file fails here, it is never skipped."""
    roadmap = tree_lines(TREE.read_text())
    assert len(roadmap) > 200
    ours = [line.split(" — ", 1)[0] for line in tree_lines(INDEX.read_text())]
    assert ours == roadmap
