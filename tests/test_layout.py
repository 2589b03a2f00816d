"""The README's Layout section is the map a newcomer reads first: it must name what the tree holds."""

from __future__ import annotations

import re
import subprocess

from fourpaths.config import PROJECT_ROOT

CHAPTER = re.compile(r"^  (\w+)/\s")
MODULES_COLUMN = 21  # where a chapter's module list starts on the lines below it


def _layout_lines() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Layout", 1)[1]
    return section.split("```", 2)[1].strip("\n").splitlines()


def _entries(folder) -> set[str]:
    """What git tracks there (or would: untracked but not ignored), one level down."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "."], cwd=folder,
                            capture_output=True, text=True, check=True).stdout.split()
    return {name.split("/")[0] + ("/" if "/" in name else "") for name in listed
            if name.split("/")[0] not in {"__init__.py"} and not name.startswith(".")}


def test_every_top_level_folder_is_on_the_map_and_exists():
    listed = {line.split()[0] for line in _layout_lines() if line and not line.startswith(" ")}
    folders = {name for name in _entries(PROJECT_ROOT) if name.endswith("/") and not name.startswith(".")}
    assert folders <= listed, f"folders missing from the README's Layout: {sorted(folders - listed)}"
    assert all((PROJECT_ROOT / name).exists() for name in listed), "the Layout names something that is not there"


def test_the_package_map_names_every_module_of_every_chapter():
    lines = _layout_lines()
    listed_top: set[str] = set()
    for number, line in enumerate(lines):
        if not line.startswith("  ") or line.startswith("   "):
            continue
        name = line.split()[0]
        listed_top.add(name)
        chapter = CHAPTER.match(line)
        if chapter is None:
            continue
        modules: set[str] = set()
        for below in lines[number + 1:]:
            if not below.startswith(" " * MODULES_COLUMN):
                break
            modules.update(below.split())
        folder = PROJECT_ROOT / "fourpaths" / chapter.group(1)
        actual = {entry.removesuffix(".py") for entry in _entries(folder)}
        assert modules == actual, f"{chapter.group(1)}/: README lists {sorted(modules)}, the tree has {sorted(actual)}"
    assert listed_top == _entries(PROJECT_ROOT / "fourpaths")


def test_the_package_stays_a_dozen_chapters():
    assert len(_entries(PROJECT_ROOT / "fourpaths")) + 1 <= 12  # __init__.py counts too
