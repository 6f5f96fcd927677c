"""No broken relative link in README.md or docs/, and docs/architecture.md true to the package's modules.

Links: every `[text](target)` / `![alt](target)` outside code whose target is not a URL must name an existing
file or directory (relative to the page), and a `#anchor` into a markdown page (or the page itself) must be
one of its headings' anchors under GitHub's rules: lowercase, punctuation other than `-` and `_` dropped,
spaces to `-`, and `-1`, `-2`, ... appended to repeats.

Architecture: docs/architecture.md names modules by their path under `gradient_integrations/` in backticks
(`core/settings.py`). Every public module file of the package must be named there, and every `.py` path it
names must exist (paths under `devtools/`, `tests/`, `benchmarks/`, `examples/` or `scripts/` are read from
the repository root).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gradient_integrations"
DOCS = ROOT / "docs"
ARCHITECTURE = DOCS / "architecture.md"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
REPO_ROOT_FOLDERS = ("devtools/", "tests/", "benchmarks/", "examples/", "scripts/", "gradient_integrations/")

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
# [text](target) or ![alt](target), target without spaces, optionally followed by a "title".
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines outside fenced code blocks."""
    lines: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match[1]
        elif fence is not None and match and match[1][0] == fence[0] and len(match[1]) >= len(fence):
            fence = None
        elif fence is None:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.replace("`", "").strip().lower()
    kept = []
    for char in text:
        if char in "-_ " or unicodedata.category(char)[0] in "LNM":
            kept.append(char)
    return "".join(kept).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in prose_lines(path):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match[2])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every link outside code in a markdown page."""
    found: list[tuple[int, str]] = []
    for number, line in prose_lines(path):
        for match in _LINK.finditer(_INLINE_CODE.sub("", line)):
            found.append((number, match[1]))
    return found


def broken(page: Path, target: str) -> str | None:
    """Why a link target from `page` is broken, or None when it is fine (URLs are not checked)."""
    if _SCHEME.match(target) or target.startswith("//"):
        return None
    location, _, anchor = target.partition("#")
    if location.startswith("/"):
        return "absolute path: GitHub resolves it against the site, not the repository; use a relative one"
    destination = (page.parent / unquote(location)).resolve() if location else page
    shown = destination.relative_to(ROOT) if destination.is_relative_to(ROOT) else destination
    if not destination.exists():
        return f"{shown} does not exist"
    if anchor and destination.suffix == ".md" and unquote(anchor).lower() not in anchors(destination):
        return f"#{anchor} matches no heading of {shown}"
    return None


def test_the_pages_are_found() -> None:
    assert (ROOT / "README.md").is_file()
    assert len(PAGES) > 5, PAGES


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    problems = [
        f"{page.relative_to(ROOT)}:L{number}: ({target}) {reason}"
        for number, target in links(page)
        if (reason := broken(page, target)) is not None
    ]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_every_docs_page_is_reachable_from_the_readme_or_the_index() -> None:
    linked: set[Path] = set()
    for page in (ROOT / "README.md", DOCS / "README.md"):
        for _, target in links(page):
            location = target.partition("#")[0]
            if location and not _SCHEME.match(location):
                linked.add((page.parent / unquote(location)).resolve())
    orphans = [str(page.relative_to(ROOT)) for page in PAGES[1:] if page.resolve() not in linked]
    assert not orphans, f"docs pages linked from neither README.md nor docs/README.md: {orphans}"


def test_the_slug_rules() -> None:
    assert slug("LangChain: `ChatGradient`") == "langchain-chatgradient"
    assert slug("The scripted model's rules") == "the-scripted-models-rules"
    assert slug("`init_chat_model` and switching models at run time") == (
        "init_chat_model-and-switching-models-at-run-time"
    )
    assert slug("Limits of the local server") == "limits-of-the-local-server"
    assert slug("Ray Data / Spark") == "ray-data--spark"


# -- docs/architecture.md against the package ------------------------------------------------------------
_MODULE_PATH = re.compile(r"`((?:[\w.-]+/)*\w+\.py)`")


def package_modules() -> set[str]:
    """The package's module files that the page must name: not `__init__`, `__main__` or `_private`."""
    return {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts and not path.name.startswith("_")
    }


def named_modules() -> set[str]:
    return set(_MODULE_PATH.findall(ARCHITECTURE.read_text(encoding="utf-8")))


def test_architecture_names_every_module_of_the_package() -> None:
    missing = sorted(package_modules() - named_modules())
    assert not missing, (
        f"docs/architecture.md does not describe these modules of gradient_integrations/: {missing}; "
        "add a row with what each owns"
    )


def test_architecture_names_no_module_that_does_not_exist() -> None:
    gone = []
    for name in sorted(named_modules()):
        base = ROOT if name.startswith(REPO_ROOT_FOLDERS) else PACKAGE
        if not (base / name).is_file():
            gone.append(name)
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"
