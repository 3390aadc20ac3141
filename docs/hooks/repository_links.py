"""MkDocs hook: the relative links of the Markdown files outside the site must lead somewhere.

`mkdocs build --strict` checks the links between the site's pages and their anchors; README.md,
ARCHITECTURE.md and the other Markdown files of the repository are read on GitHub or in an
editor, outside the site, so this hook checks theirs: every relative link names a file or folder
that exists, and a `#fragment` into a Markdown file names one of its headings. Each broken link is
a warning, so the strict build fails on it. External links (http, mailto) are not fetched.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from markdown.extensions.toc import slugify

REPO = Path(__file__).resolve().parents[2]
CHECKED = ("README.md", "ARCHITECTURE.md", "benchmarks/results/README.md", "data/objects/README.md")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
log = logging.getLogger("mkdocs.hooks.repository_links")


def headings(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings, as MkDocs (and, for plain headings, GitHub) make them."""
    text = FENCE.sub("", path.read_text())
    return {slugify(re.sub(r"[`*_]", "", title), "-") for title in HEADING.findall(text)}


def broken_links(source: Path, root: Path = REPO) -> list[str]:
    """The relative links of `source` (a file under `root`) that lead nowhere, each as a sentence."""
    problems = []
    text = FENCE.sub("", source.read_text())
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, fragment = target.partition("#")
        path = (source.parent / path_part).resolve() if path_part else source
        name = source.relative_to(root)
        if not path.exists():
            problems.append(f"{name}: the link {target} names {path_part}, which does not exist")
        elif fragment and path.suffix == ".md" and fragment not in headings(path):
            problems.append(f"{name}: the link {target} names #{fragment}, which is no heading of {path_part or name}")
    return problems


def on_pre_build(config) -> None:
    for name in CHECKED:
        source = REPO / name
        if source.exists():
            for problem in broken_links(source):
                log.warning(problem)
