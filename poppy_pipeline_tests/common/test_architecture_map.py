"""ARCHITECTURE.md is the one map of the code: it names every module, and only modules that exist."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "poppy_pipeline"
MAP = REPO / "ARCHITECTURE.md"


def modules_on_disk() -> set[str]:
    """Every module as `<folder>/<file>.py` relative to the package (`__init__.py` of subpackages aside)."""
    found = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")}
    return {m for m in found if m == "__init__.py" or not m.endswith("/__init__.py")}


def modules_on_the_map(text: str) -> set[str]:
    """The modules ARCHITECTURE.md lists under its "Modules" section, by their heading's folder."""
    section = text.split("## Modules", 1)[1].split("\n## ", 1)[0]
    named: set[str] = set()
    folder = ""
    for line in section.splitlines():
        heading = re.match(r"### `(poppy_pipeline|\w+)/`", line)
        if heading:
            folder = "" if heading.group(1) == "poppy_pipeline" else f"{heading.group(1)}/"
            continue
        if line.startswith("| module") or line.startswith("|---"):
            continue
        for name in re.findall(r"`(\w+\.py)`", line.split("|")[1] if line.startswith("|") else line):
            named.add(folder + name)
    return named


def test_every_module_is_on_the_map_and_every_name_on_it_exists():
    on_disk, on_map = modules_on_disk(), modules_on_the_map(MAP.read_text())
    assert sorted(on_disk - on_map) == [], "modules missing from ARCHITECTURE.md"
    assert sorted(on_map - on_disk) == [], "ARCHITECTURE.md names modules that do not exist"


def test_the_map_reader_sees_a_missing_and_an_invented_module():
    text = "## Modules\n\n### `common/`\n\n| module | what |\n|---|---|\n| `paths.py` | x |\n| `ghost.py` | y |\n"
    assert modules_on_the_map(text) == {"common/paths.py", "common/ghost.py"}
