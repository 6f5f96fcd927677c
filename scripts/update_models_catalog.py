#!/usr/bin/env python3
"""Regenerate ``gradient_integrations/core/data/models.json``, the shipped table of known Gradient models.

The table is built from models.dev's DigitalOcean provider data (``providers/digitalocean/models/**/*.toml``
in the models.dev repository, which its maintainers keep in sync with DigitalOcean's model and pricing
APIs), merged with the hand-kept facts in ``scripts/models_catalog_extra.json`` (which entries are
embedding models and their vector sizes, exclusions, whole entries models.dev lacks).

Usage::

    python scripts/update_models_catalog.py --models-dev PATH [--commit REV]

``PATH`` is either

* a git repository of models.dev: a bare git directory or a checkout. Files are read at ``REV``
  (default ``HEAD``) through ``git``, never from the work tree, so the recorded commit always matches
  the data; or
* a plain directory laid out like models.dev (``providers/digitalocean/models/...``). Then ``--commit``
  must be the 40-hex commit the files come from and ``--commit-date`` its date.

Other options: ``--output`` and ``--extra`` (paths; defaults are the repository's files), ``--retrieved
YYYY-MM-DD`` (default: kept from the existing output when it was made from the same commit, else today
in UTC, so a re-run reproduces the file byte for byte), ``--repository`` (the ``owner/name`` recorded),
and ``--check`` (write nothing; exit 1 if the output would change).

Mapping, per models.dev entry (its id, the file path without ``.toml``, is the id DO's API takes):
``limit.context`` -> ``context_window``, ``limit.output`` -> ``max_output_tokens`` (a 0 there means
"unknown" and becomes null), ``tool_call`` -> ``tool_calling``, ``structured_output``, ``reasoning``,
``"image" in modalities.input`` -> ``image_input``, ``cost.input``/``cost.output``/``cost.cache_read`` ->
``*_usd_per_mtok``, ``open_weights``, ``release_date``. An absent field becomes null, never a guess.
Entries whose output modalities lack text (image, audio and video generators), entries marked
``status = "deprecated"`` and entries listed under ``exclude`` in the extra file are left out; the
source notes name them.

Only the standard library is used. Parsing TOML needs ``tomllib``, so this maintainer script needs
Python 3.11+, although the package itself supports 3.10.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "gradient_integrations" / "core" / "data" / "models.json"
DEFAULT_EXTRA = Path(__file__).resolve().parent / "models_catalog_extra.json"
DEFAULT_REPOSITORY = "anomalyco/models.dev"  # published as sst/models.dev before the move

PROVIDER_MODELS = "providers/digitalocean/models"
BASE_MODELS = "models"  # models.dev's provider-independent entries, the targets of `base_model`

KINDS = ("chat", "embedding")
# The field order of one model entry in models.json.
MODEL_FIELDS = (
    "name",
    "kind",
    "context_window",
    "max_output_tokens",
    "tool_calling",
    "structured_output",
    "reasoning",
    "image_input",
    "embedding_dimensions",
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cached_input_usd_per_mtok",
    "open_weights",
    "release_date",
    "source",
)
# Fields models.dev's generator drops from a base model before merging a provider entry over it.
_NOT_INHERITED = ("id", "benchmarks", "license", "links", "weights")

_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CatalogError(Exception):
    """The input cannot be turned into a catalog (bad path, bad data, an undeclared embedding model...)."""


# --------------------------------------------------------------------------------------------------------
# Reading a models.dev tree
# --------------------------------------------------------------------------------------------------------


class ModelsDevTree(Protocol):
    """Read access to one revision of models.dev."""

    commit: str
    commit_date: str

    def list_toml(self, directory: str) -> list[str]:
        """Paths (relative to `directory`, "/"-separated, with ".toml") of every TOML file below it."""
        ...

    def read(self, path: str) -> bytes | None:
        """The bytes of the file at the repository-relative `path`, or None when there is none."""
        ...


def _is_git_repository(path: Path) -> bool:
    """A checkout (has `.git`) or a bare repository (has `HEAD` and `objects/`); not a plain directory
    that merely sits inside some other repository."""
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


class GitTree:
    """One commit of a models.dev git repository (bare or checkout), read through the `git` command."""

    def __init__(self, path: Path, rev: str) -> None:
        self._path = path
        self.commit = self._git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
        if not _HEX40.match(self.commit):
            raise CatalogError(f"{path}: cannot resolve {rev!r} to a commit")
        timestamp = int(self._git("show", "-s", "--format=%ct", self.commit).decode().strip())
        # The committer date, in UTC so that the result does not depend on the committer's time zone.
        self.commit_date = dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).date().isoformat()

    def _git(self, *args: str, check: bool = True) -> bytes:
        try:
            result = subprocess.run(
                ["git", "-C", str(self._path), *args], capture_output=True, check=False, timeout=120
            )
        except FileNotFoundError as exc:  # no git executable
            raise CatalogError("reading a git repository needs the `git` command") from exc
        if check and result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            raise CatalogError(f"git {' '.join(args)} failed in {self._path}: {message}")
        return result.stdout

    def list_toml(self, directory: str) -> list[str]:
        out = self._git("ls-tree", "-r", "-z", "--name-only", self.commit, "--", f"{directory}/")
        prefix = f"{directory}/"
        names = [name for name in out.decode().split("\0") if name]
        return sorted(name[len(prefix) :] for name in names if name.endswith(".toml"))

    def read(self, path: str) -> bytes | None:
        result = subprocess.run(
            ["git", "-C", str(self._path), "show", f"{self.commit}:{path}"],
            capture_output=True,
            check=False,
            timeout=120,
        )
        return result.stdout if result.returncode == 0 else None


class DirectoryTree:
    """A plain directory laid out like models.dev; its commit and date are given by the caller."""

    def __init__(self, path: Path, commit: str, commit_date: str) -> None:
        self._path = path
        self.commit = commit
        self.commit_date = commit_date

    def list_toml(self, directory: str) -> list[str]:
        root = self._path / directory
        if not root.is_dir():
            return []
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.toml") if p.is_file())

    def read(self, path: str) -> bytes | None:
        file = self._path / path
        return file.read_bytes() if file.is_file() else None


def open_tree(path: Path, rev: str | None, commit_date: str | None) -> ModelsDevTree:
    """A git repository is read at `rev` (default HEAD); a plain directory needs `rev` (40 hex) and
    `commit_date` (YYYY-MM-DD) spelled out."""
    if not path.is_dir():
        raise CatalogError(f"{path}: not a directory")
    if _is_git_repository(path):
        if commit_date is not None:
            raise CatalogError("--commit-date is only for a plain directory; git gives the date")
        return GitTree(path, rev or "HEAD")
    if rev is None or not _HEX40.match(rev.lower()):
        raise CatalogError(f"{path} is not a git repository: pass --commit with the 40-hex commit")
    if commit_date is None or not _DATE.match(commit_date):
        raise CatalogError(f"{path} is not a git repository: pass --commit-date YYYY-MM-DD")
    return DirectoryTree(path, rev.lower(), commit_date)


def _load_toml(tree: ModelsDevTree, path: str) -> dict[str, Any]:
    try:
        tomllib = importlib.import_module("tomllib")  # imported here: Python 3.11+ only
    except ModuleNotFoundError as exc:
        raise CatalogError("parsing models.dev needs Python 3.11+ (tomllib)") from exc
    data = tree.read(path)
    if data is None:
        raise CatalogError(f"{path}: missing at {tree.commit}")
    try:
        parsed: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: {exc}") from exc
    return parsed


# --------------------------------------------------------------------------------------------------------
# models.dev semantics
# --------------------------------------------------------------------------------------------------------


def _merge_deep(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (arrays included) in `override` replaces the base's."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge_deep(current, value)
        else:
            merged[key] = value
    return merged


def _omit(entry: dict[str, Any], dotted: str) -> None:
    """Delete `a.b.c` from `entry` and any table the deletion leaves empty (models.dev's
    `base_model_omit`)."""
    parts = dotted.split(".")
    chain: list[tuple[dict[str, Any], str]] = []
    node: Any = entry
    for part in parts[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            return
        chain.append((node, part))
        node = node[part]
    if not isinstance(node, dict) or parts[-1] not in node:
        return
    del node[parts[-1]]
    for parent, key in reversed(chain):
        if parent[key]:
            break
        del parent[key]


def resolve_entry(tree: ModelsDevTree, model_id: str) -> dict[str, Any]:
    """One provider entry as models.dev publishes it: the provider file, laid over its `base_model`."""
    entry = _load_toml(tree, f"{PROVIDER_MODELS}/{model_id}.toml")
    base_id = entry.pop("base_model", None)
    omit = entry.pop("base_model_omit", [])
    if base_id is None:
        return entry
    base = _load_toml(tree, f"{BASE_MODELS}/{base_id}.toml")
    inherited = {key: value for key, value in base.items() if key not in _NOT_INHERITED}
    merged = _merge_deep(inherited, entry)
    for dotted in omit:
        _omit(merged, str(dotted))
    return merged


def _table(entry: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = entry.get(key)
    return value if isinstance(value, Mapping) else {}


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    """A positive token count; models.dev's DO generator writes 0 when DO gave no number."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _price(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _date(value: Any) -> str | None:
    if isinstance(value, (dt.date, dt.datetime)):  # an unquoted TOML date
        return value.isoformat()[:10]
    return value if isinstance(value, str) and value else None


def map_entry(model_id: str, entry: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The models.json record of one models.dev entry (`source` and dimensions are set by the caller)."""
    limit, cost, modalities = _table(entry, "limit"), _table(entry, "cost"), _table(entry, "modalities")
    inputs = modalities.get("input")
    name = entry.get("name")
    return {
        "name": name if isinstance(name, str) and name else model_id,
        "kind": kind,
        "context_window": _count(limit.get("context")),
        # For embedding entries models.dev's limit.output is the vector size, not a token limit.
        "max_output_tokens": _count(limit.get("output")) if kind == "chat" else None,
        "tool_calling": _bool(entry.get("tool_call")),
        "structured_output": _bool(entry.get("structured_output")),
        "reasoning": _bool(entry.get("reasoning")),
        "image_input": ("image" in inputs) if isinstance(inputs, list) else None,
        "embedding_dimensions": None,
        "input_usd_per_mtok": _price(cost.get("input")),
        "output_usd_per_mtok": _price(cost.get("output")),
        "cached_input_usd_per_mtok": _price(cost.get("cache_read")),
        "open_weights": _bool(entry.get("open_weights")),
        "release_date": _date(entry.get("release_date")),
        "source": "models.dev",
    }


# --------------------------------------------------------------------------------------------------------
# The catalog
# --------------------------------------------------------------------------------------------------------


def _check_extra(extra: Mapping[str, Any]) -> None:
    for key in ("notes", "extra_sources", "exclude", "embedding_models", "models"):
        if key not in extra:
            raise CatalogError(f"extra file: missing {key!r}")
    for model_id, spec in extra["embedding_models"].items():
        dims = spec.get("embedding_dimensions")
        if not isinstance(dims, int) or isinstance(dims, bool) or dims <= 0 or not spec.get("source"):
            raise CatalogError(f"extra file: embedding_models[{model_id!r}] needs dimensions and a source")
    for model_id, record in extra["models"].items():
        if set(record) != set(MODEL_FIELDS):
            raise CatalogError(
                f"extra file: models[{model_id!r}] must have exactly the fields {MODEL_FIELDS}"
            )
        if record["kind"] not in KINDS:
            raise CatalogError(f"extra file: models[{model_id!r}] has kind {record['kind']!r}")


def build_catalog(
    tree: ModelsDevTree, extra: Mapping[str, Any], *, repository: str, retrieved: str
) -> dict[str, Any]:
    """The whole models.json document for one models.dev revision and the hand-kept extra facts."""
    _check_extra(extra)
    embedding_specs: Mapping[str, Mapping[str, Any]] = extra["embedding_models"]
    excluded: dict[str, list[str]] = {"deprecated": [], "non-text output": [], "listed in the extra file": []}
    models: dict[str, dict[str, Any]] = {}

    ids = [name[: -len(".toml")] for name in tree.list_toml(PROVIDER_MODELS)]
    if not ids:
        raise CatalogError(f"no {PROVIDER_MODELS}/**/*.toml at {tree.commit}")
    for model_id in ids:
        entry = resolve_entry(tree, model_id)
        outputs = _table(entry, "modalities").get("output", ["text"])
        if model_id in extra["exclude"]:
            excluded["listed in the extra file"].append(model_id)
            continue
        if entry.get("status") == "deprecated":
            excluded["deprecated"].append(model_id)
            continue
        if "text" not in outputs:
            excluded["non-text output"].append(model_id)
            continue
        if model_id in embedding_specs:
            spec = embedding_specs[model_id]
            record = map_entry(model_id, entry, "embedding")
            record["embedding_dimensions"] = spec["embedding_dimensions"]
            record["source"] = f"models.dev; embedding_dimensions: {spec['source']}"
            listed = _count(_table(entry, "limit").get("output"))
            if listed is not None and listed != spec["embedding_dimensions"]:
                print(
                    f"warning: {model_id}: models.dev limit.output is {listed}, the extra file says "
                    f"{spec['embedding_dimensions']} dimensions",
                    file=sys.stderr,
                )
        elif entry.get("family") == "text-embedding":
            raise CatalogError(
                f"{model_id} looks like an embedding model (family text-embedding): declare it under "
                "embedding_models (with its dimensions and a source) or under exclude in the extra file"
            )
        else:
            record = map_entry(model_id, entry, "chat")
        models[model_id] = record

    for model_id in embedding_specs:
        if model_id not in models and model_id not in extra["exclude"]:
            raise CatalogError(f"embedding_models[{model_id!r}] is not a models.dev DigitalOcean entry")
    for model_id, record in extra["models"].items():
        if model_id in models:
            raise CatalogError(f"models[{model_id!r}] in the extra file is also in models.dev: drop it")
        models[model_id] = {field: record[field] for field in MODEL_FIELDS}

    dropped = "; ".join(f"{why}: {', '.join(sorted(ids))}" for why, ids in excluded.items() if ids)
    notes = extra["notes"] + (f" Left out of models.dev's list: {dropped}." if dropped else "")
    return {
        "source": {
            "name": "models.dev",
            "repository": repository,
            "commit": tree.commit,
            "commit_date": tree.commit_date,
            "path": PROVIDER_MODELS,
            "retrieved": retrieved,
            "notes": notes,
        },
        "extra_sources": [{"what": s["what"], "source": s["source"]} for s in extra["extra_sources"]],
        "models": {model_id: models[model_id] for model_id in sorted(models)},
    }


def render(catalog: Mapping[str, Any]) -> str:
    """The exact text of models.json: 2-space indent, keys in insertion order, UTF-8, final newline."""
    return json.dumps(catalog, indent=2, ensure_ascii=False) + "\n"


def _default_retrieved(output: Path, commit: str) -> str:
    """Keep the existing date when the existing output came from the same commit (so a re-run is
    byte-identical); otherwise today, in UTC."""
    try:
        previous = json.loads(output.read_text(encoding="utf-8"))["source"]
        if previous["commit"] == commit and _DATE.match(previous["retrieved"]):
            return str(previous["retrieved"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dev", type=Path, required=True, help="models.dev git dir, checkout or tree")
    parser.add_argument("--commit", help="revision to read (git; default HEAD) or the tree's 40-hex commit")
    parser.add_argument("--commit-date", help="YYYY-MM-DD of --commit (plain directory only)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--extra", type=Path, default=DEFAULT_EXTRA)
    parser.add_argument("--retrieved", help="YYYY-MM-DD the data was retrieved (default: see the docstring)")
    parser.add_argument("--repository", default=DEFAULT_REPOSITORY, help="owner/name recorded as the source")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the output would change"
    )
    args = parser.parse_args(argv)

    try:
        if args.retrieved is not None and not _DATE.match(args.retrieved):
            raise CatalogError("--retrieved must be YYYY-MM-DD")
        tree = open_tree(args.models_dev, args.commit, args.commit_date)
        extra = json.loads(args.extra.read_text(encoding="utf-8"))
        retrieved = args.retrieved or _default_retrieved(args.output, tree.commit)
        text = render(build_catalog(tree, extra, repository=args.repository, retrieved=retrieved))
    except (CatalogError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    current = args.output.read_text(encoding="utf-8") if args.output.is_file() else None
    if args.check:
        if current != text:
            print(f"{args.output} is out of date", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8", newline="\n")
    count = len(json.loads(text)["models"])
    print(f"{args.output}: {count} models from {tree.commit} ({tree.commit_date})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
