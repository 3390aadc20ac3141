"""ARCHITECTURE.md is the one map of the code: it names every module of the package, and only those.

A module is named in backticks: by its path inside the package (`simulation/catalog.py`,
`defs/users.py`, `definitions.py`); by its bare file name under a heading that names its folder
(`catalog.py` under "### `simulation/`: …"), or anywhere when no other module has that name; or by
its dotted name (`poppy_pipeline.definitions`). A backticked file name that is no module of the
package must at least be a file of the repository (`cluster/cluster.py`, a test file), so that a
module renamed or removed cannot linger in the map.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
while not (REPO / "pyproject.toml").exists():  # wherever the test sits inside poppy_pipeline_tests/
    REPO = REPO.parent
PACKAGE = REPO / "poppy_pipeline"
MAP = REPO / "ARCHITECTURE.md"

CODE_SPAN = re.compile(r"`([^`\n]+)`")
FILE_NAME = re.compile(r"^(?:poppy_pipeline/)?[\w./-]*\w\.py$")
DOTTED = re.compile(r"^poppy_pipeline(?:\.\w+)+$")
HEADING = re.compile(r"^#{1,6}\s")


def package_modules(package: Path = PACKAGE) -> set[str]:
    """Every module of the package, as its path inside it (`simulation/catalog.py`); no `__init__.py`."""
    return {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    }


def repository_files(repo: Path = REPO) -> set[str]:
    """Every file git knows in the repository (tracked or not ignored), as a path from its root."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(listed.stdout.split())


def named_modules(text: str, modules: set[str], files: set[str]) -> tuple[set[str], list[str]]:
    """The modules `text` names, and a sentence for each name it gives that names no module or file."""
    by_file_name: dict[str, list[str]] = defaultdict(list)
    for module in modules:
        by_file_name[module.rsplit("/", 1)[-1]].append(module)
    file_names = {path.rsplit("/", 1)[-1] for path in files}
    named, problems = set(), []
    folder: str | None = None  # the package folder the current heading names, "" for the package itself
    for line in text.splitlines():
        if HEADING.match(line):
            folders = [span for span in CODE_SPAN.findall(line) if span.endswith("/")]
            folder = folders[0].removeprefix("poppy_pipeline/").removeprefix("poppy_pipeline") if folders else None
            continue
        for span in CODE_SPAN.findall(line):
            token = span.strip()
            if DOTTED.match(token):
                path = token.removeprefix("poppy_pipeline.").replace(".", "/")
                if f"{path}.py" in modules:
                    named.add(f"{path}.py")
                elif not any(module.startswith(f"{path}/") for module in modules):  # nor a subpackage
                    problems.append(f"`{token}` names no module or package of poppy_pipeline")
                continue
            if not FILE_NAME.match(token):
                continue
            path = token.removeprefix("poppy_pipeline/")
            candidates = by_file_name.get(path, []) if "/" not in path else []
            if path in modules:
                named.add(path)
            elif folder is not None and "/" not in path and f"{folder}{path}" in modules:
                named.add(f"{folder}{path}")
            elif len(candidates) == 1:
                named.add(candidates[0])
            elif len(candidates) > 1:
                choices = ", ".join(f"`{module}`" for module in sorted(candidates))
                problems.append(f"`{token}` is ambiguous: name one of {choices}, or list it under its folder's heading")
            elif token not in files and not ("/" not in token and token in file_names):
                problems.append(f"`{token}` names no module of poppy_pipeline and no file of the repository")
    return named, problems


def test_every_module_of_the_package_is_on_the_map() -> None:
    modules = package_modules()
    named, _ = named_modules(MAP.read_text(), modules, repository_files())
    missing = sorted(modules - named)
    assert not missing, f"ARCHITECTURE.md does not name these modules of poppy_pipeline/: {missing}"


def test_the_map_names_only_modules_and_files_that_exist() -> None:
    _, problems = named_modules(MAP.read_text(), package_modules(), repository_files())
    assert not problems, "ARCHITECTURE.md: " + "; ".join(problems)


# --- the rules themselves, on a small made-up package --------------------------------------------

MODULES = {"definitions.py", "simulation/catalog.py", "click_model/figures.py", "fidelity/figures.py"}
FILES = {"cluster/cluster.py", "poppy_pipeline_tests/test_catalog.py"}


@pytest.mark.parametrize(
    ("text", "module"),
    [
        ("`simulation/catalog.py` makes the catalog", "simulation/catalog.py"),
        ("`catalog.py`: the only module of that name", "simulation/catalog.py"),
        ("`poppy_pipeline/definitions.py`", "definitions.py"),
        ("the code location, `poppy_pipeline.definitions`", "definitions.py"),
    ],
)
def test_a_module_is_named_by_its_path_its_unique_file_name_or_its_dotted_name(text: str, module: str) -> None:
    named, problems = named_modules(text, MODULES, FILES)
    assert named == {module}
    assert problems == []


def test_a_file_name_two_modules_share_names_neither() -> None:
    named, problems = named_modules("the figures (`figures.py`)", MODULES, FILES)
    assert named == set()
    assert problems == [
        "`figures.py` is ambiguous: name one of `click_model/figures.py`, `fidelity/figures.py`, or list it under"
        " its folder's heading"
    ]


def test_a_heading_that_names_a_folder_gives_its_file_names_their_folder() -> None:
    text = (
        "## `click_model/`: the model\n\n| `figures.py` | ROC |\n\n"
        "### `fidelity/`\n\n`figures.py`, and `catalog.py` of another folder\n\n"
        "## `poppy_pipeline/`\n\n`definitions.py`\n\n## Elsewhere\n\n`figures.py`\n"
    )
    named, problems = named_modules(text, MODULES, FILES)
    assert named == {"click_model/figures.py", "fidelity/figures.py", "simulation/catalog.py", "definitions.py"}
    assert len(problems) == 1 and problems[0].startswith("`figures.py` is ambiguous")


def test_a_module_that_no_longer_exists_is_reported() -> None:
    named, problems = named_modules("`simulation/interactions.py`, `poppy_pipeline.outputs`", MODULES, FILES)
    assert named == set()
    assert problems == [
        "`simulation/interactions.py` names no module of poppy_pipeline and no file of the repository",
        "`poppy_pipeline.outputs` names no module or package of poppy_pipeline",
    ]


def test_files_outside_the_package_and_other_code_are_not_modules() -> None:
    text = "`cluster/cluster.py`, `test_catalog.py`, `dg check defs`, `defs/`, `POPPY_DATA_DIR`, `x.pyc`"
    assert named_modules(text, MODULES, FILES) == (set(), [])


def test_the_package_modules_are_found_in_subpackages(tmp_path: Path) -> None:
    for name in ("__init__.py", "definitions.py", "simulation/__init__.py", "simulation/catalog.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert package_modules(tmp_path) == {"definitions.py", "simulation/catalog.py"}
