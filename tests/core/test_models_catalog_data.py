"""The shipped table of known Gradient models (`gradient_integrations/core/data/models.json`) and the
script that regenerates it (`scripts/update_models_catalog.py`).

The first half checks the shipped file's shape. The second half runs the script on a tiny fake
models.dev tree built in `tmp_path` (no network, and no real models.dev checkout needed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from gradient_integrations.core.catalog import ModelInfo

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "update_models_catalog.py"
EXTRA = REPO_ROOT / "scripts" / "models_catalog_extra.json"

# Every fact `ModelInfo` reads, in the dataclass's order (the file and the class must not drift apart);
# `batch_provider` is not in the file: the catalog derives it by a rule (`batch_provider_for`).
MODEL_FIELDS = tuple(
    spec.name for spec in dataclasses.fields(ModelInfo) if spec.name not in ("id", "known", "batch_provider")
)
SOURCE_FIELDS = ("name", "repository", "commit", "commit_date", "path", "retrieved", "notes")
INT_FIELDS = ("context_window", "max_output_tokens", "embedding_dimensions")
BOOL_FIELDS = ("tool_calling", "structured_output", "reasoning", "image_input", "open_weights")
PRICE_FIELDS = ("input_usd_per_mtok", "output_usd_per_mtok", "cached_input_usd_per_mtok")
HEX40 = re.compile(r"^[0-9a-f]{40}$")
RELEASE_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


def _shipped_text() -> str:
    # Read as package data, the way an installed wheel would find it.
    return resources.files("gradient_integrations.core").joinpath("data/models.json").read_text("utf-8")


@pytest.fixture(scope="module")
def catalog() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_shipped_text())
    return data


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------------------
# The shipped file
# --------------------------------------------------------------------------------------------------------


def test_top_level_and_source(catalog: dict[str, Any]) -> None:
    assert list(catalog) == ["source", "extra_sources", "models"]
    source = catalog["source"]
    assert tuple(source) == SOURCE_FIELDS
    assert source["name"] == "models.dev"
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", source["repository"])
    assert HEX40.match(source["commit"])
    commit_date = dt.date.fromisoformat(source["commit_date"])
    retrieved = dt.date.fromisoformat(source["retrieved"])
    assert commit_date <= retrieved
    assert source["path"] == "providers/digitalocean/models"
    assert isinstance(source["notes"], str) and source["notes"]


def test_extra_sources(catalog: dict[str, Any]) -> None:
    extra_sources = catalog["extra_sources"]
    assert isinstance(extra_sources, list) and extra_sources
    for item in extra_sources:
        assert set(item) == {"what", "source"}
        assert isinstance(item["what"], str) and item["what"]
        assert isinstance(item["source"], str) and item["source"]


def test_file_is_stable_json(catalog: dict[str, Any]) -> None:
    """Byte-stable: what the script's renderer writes (2-space indent, final newline), models sorted."""
    assert _shipped_text() == json.dumps(catalog, indent=2, ensure_ascii=False) + "\n"
    assert list(catalog["models"]) == sorted(catalog["models"])


def test_every_model_has_every_field_with_its_type(catalog: dict[str, Any]) -> None:
    models = catalog["models"]
    assert len(models) >= 10
    for model_id, record in models.items():
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/:-]*", model_id), model_id
        assert tuple(record) == MODEL_FIELDS, model_id
        assert isinstance(record["name"], str) and record["name"], model_id
        assert record["kind"] in ("chat", "embedding"), model_id
        for field in INT_FIELDS:
            value = record[field]
            assert value is None or (_is_int(value) and value > 0), (model_id, field, value)
        for field in BOOL_FIELDS:
            assert record[field] is None or isinstance(record[field], bool), (model_id, field)
        for field in PRICE_FIELDS:
            value = record[field]
            assert value is None or (
                isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
            ), (model_id, field, value)
        release_date = record["release_date"]
        assert release_date is None or RELEASE_DATE.match(release_date), (model_id, release_date)
        assert isinstance(record["source"], str) and record["source"], model_id


def test_limits_are_consistent(catalog: dict[str, Any]) -> None:
    for model_id, record in catalog["models"].items():
        context, output = record["context_window"], record["max_output_tokens"]
        if context is not None and output is not None:
            assert context >= output, model_id


def test_embedding_models_have_dimensions_and_chat_models_do_not(catalog: dict[str, Any]) -> None:
    kinds = {record["kind"] for record in catalog["models"].values()}
    assert kinds == {"chat", "embedding"}
    for model_id, record in catalog["models"].items():
        if record["kind"] == "embedding":
            assert _is_int(record["embedding_dimensions"]), model_id
            assert record["max_output_tokens"] is None, model_id
        else:
            assert record["embedding_dimensions"] is None, model_id


def test_known_models(catalog: dict[str, Any]) -> None:
    """The models the DO spec uses as its examples (responses and embeddings) are in the table."""
    models = catalog["models"]
    assert models["openai-gpt-oss-20b"]["kind"] == "chat"
    assert models["qwen3-embedding-0.6b"]["kind"] == "embedding"
    assert models["qwen3-embedding-0.6b"]["embedding_dimensions"] == 1024


def test_extra_file_agrees_with_the_shipped_table(catalog: dict[str, Any]) -> None:
    extra = json.loads(EXTRA.read_text("utf-8"))
    for model_id, spec in extra["embedding_models"].items():
        record = catalog["models"][model_id]
        assert record["kind"] == "embedding"
        assert record["embedding_dimensions"] == spec["embedding_dimensions"]
    for model_id in extra["exclude"]:
        assert model_id not in catalog["models"]
    assert catalog["extra_sources"] == extra["extra_sources"]


# --------------------------------------------------------------------------------------------------------
# The script, on a fake models.dev tree
# --------------------------------------------------------------------------------------------------------

needs_tomllib = pytest.mark.skipif(sys.version_info < (3, 11), reason="the script parses TOML with tomllib")

FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"

FAKE_FILES = {
    "providers/digitalocean/provider.toml": 'name = "DigitalOcean"\napi = "https://inference.do-ai.run/v1"\n',
    "providers/digitalocean/models/acme-chat.toml": """
name = "Acme Chat"
release_date = "2026-01-15"
reasoning = true
tool_call = true
structured_output = true
open_weights = false

[cost]
input = 1.25
output = 10.00
cache_read = 0.125
cache_write = 2.0

[[cost.tiers]]
tier = { size = 200_000 }
input = 2.50
output = 20.00

[limit]
context = 400_000
output = 128_000

[modalities]
input = ["text", "image", "pdf"]
output = ["text"]
""",
    # No cost, no structured_output, a 0 context: all unknown.
    "providers/digitalocean/models/acme-bare.toml": """
name = "Acme Bare"
release_date = "2025-07"
reasoning = false
tool_call = false
open_weights = true

[limit]
context = 0
output = 4_096

[modalities]
input = ["text"]
output = ["text"]
""",
    "providers/digitalocean/models/acme-embed.toml": """
name = "Acme Embed"
family = "text-embedding"
release_date = "2025-06-03"
reasoning = false
tool_call = false
open_weights = true

[cost]
input = 0.04
output = 0.00

[limit]
context = 8_000
output = 256

[modalities]
input = ["text"]
output = ["text"]
""",
    "providers/digitalocean/models/acme-image.toml": """
name = "Acme Image"
reasoning = false
tool_call = false
open_weights = false

[limit]
context = 0
output = 0

[modalities]
input = ["text"]
output = ["image"]
""",
    "providers/digitalocean/models/acme-old.toml": """
name = "Acme Old"
reasoning = false
tool_call = true
open_weights = false
status = "deprecated"

[limit]
context = 8_192
output = 1_024

[modalities]
input = ["text"]
output = ["text"]
""",
    "providers/digitalocean/models/acme-rerank.toml": """
name = "Acme Rerank"
reasoning = false
tool_call = false
open_weights = true

[limit]
context = 8_192
output = 1

[modalities]
input = ["text"]
output = ["text"]
""",
    # A nested id and a base_model: the provider file is laid over models/lab/base-1.toml.
    "providers/digitalocean/models/vendor/based.toml": """
name = "Vendor Based"
base_model = "lab/base-1"
base_model_omit = ["structured_output"]
release_date = "2026-03-11"

[cost]
input = 0.30
output = 0.65

[limit]
output = 32_768

[modalities]
input = ["text"]
""",
    "models/lab/base-1.toml": """
name = "Base One"
release_date = "2026-03-01"
reasoning = true
tool_call = true
structured_output = true
open_weights = true
license = "other"

[limit]
context = 262_144
output = 262_144

[modalities]
input = ["text", "image"]
output = ["text"]
""",
}

FAKE_EXTRA: dict[str, Any] = {
    "notes": "Fake notes.",
    "extra_sources": [{"what": "embedding dimensions", "source": "https://example.invalid/acme-embed"}],
    "exclude": {"acme-rerank": "reranker"},
    "embedding_models": {
        "acme-embed": {"embedding_dimensions": 256, "source": "https://example.invalid/acme-embed"}
    },
    "models": {
        "hand-kept": {
            "name": "Hand Kept",
            "kind": "chat",
            "context_window": 32768,
            "max_output_tokens": None,
            "tool_calling": None,
            "structured_output": None,
            "reasoning": None,
            "image_input": None,
            "embedding_dimensions": None,
            "input_usd_per_mtok": None,
            "output_usd_per_mtok": None,
            "cached_input_usd_per_mtok": None,
            "open_weights": True,
            "release_date": None,
            "source": "https://example.invalid/hand-kept",
        }
    },
}

EXPECTED_MODELS: dict[str, dict[str, Any]] = {
    "acme-bare": {
        "name": "Acme Bare",
        "kind": "chat",
        "context_window": None,
        "max_output_tokens": 4096,
        "tool_calling": False,
        "structured_output": None,
        "reasoning": False,
        "image_input": False,
        "embedding_dimensions": None,
        "input_usd_per_mtok": None,
        "output_usd_per_mtok": None,
        "cached_input_usd_per_mtok": None,
        "open_weights": True,
        "release_date": "2025-07",
        "source": "models.dev",
    },
    "acme-chat": {
        "name": "Acme Chat",
        "kind": "chat",
        "context_window": 400000,
        "max_output_tokens": 128000,
        "tool_calling": True,
        "structured_output": True,
        "reasoning": True,
        "image_input": True,
        "embedding_dimensions": None,
        "input_usd_per_mtok": 1.25,
        "output_usd_per_mtok": 10.0,
        "cached_input_usd_per_mtok": 0.125,
        "open_weights": False,
        "release_date": "2026-01-15",
        "source": "models.dev",
    },
    "acme-embed": {
        "name": "Acme Embed",
        "kind": "embedding",
        "context_window": 8000,
        "max_output_tokens": None,
        "tool_calling": False,
        "structured_output": None,
        "reasoning": False,
        "image_input": False,
        "embedding_dimensions": 256,
        "input_usd_per_mtok": 0.04,
        "output_usd_per_mtok": 0.0,
        "cached_input_usd_per_mtok": None,
        "open_weights": True,
        "release_date": "2025-06-03",
        "source": "models.dev; embedding_dimensions: https://example.invalid/acme-embed",
    },
    "hand-kept": FAKE_EXTRA["models"]["hand-kept"],
    "vendor/based": {
        "name": "Vendor Based",
        "kind": "chat",
        "context_window": 262144,
        "max_output_tokens": 32768,
        "tool_calling": True,
        "structured_output": None,
        "reasoning": True,
        "image_input": False,
        "embedding_dimensions": None,
        "input_usd_per_mtok": 0.3,
        "output_usd_per_mtok": 0.65,
        "cached_input_usd_per_mtok": None,
        "open_weights": True,
        "release_date": "2026-03-11",
        "source": "models.dev",
    },
}


def _write_tree(root: Path, files: dict[str, str] = FAKE_FILES) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    return root


def _write_extra(path: Path, extra: dict[str, Any] = FAKE_EXTRA) -> Path:
    path.write_text(json.dumps(extra, indent=2), encoding="utf-8")
    return path


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=120
    )


def _run_on_directory(tmp_path: Path, *more: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    tree = _write_tree(tmp_path / "models.dev")
    extra = _write_extra(tmp_path / "extra.json")
    output = tmp_path / "out" / "models.json"
    result = _run(
        "--models-dev", tree, "--commit", FAKE_COMMIT, "--commit-date", "2026-04-01",
        "--retrieved", "2026-04-02", "--extra", extra, "--output", output, *more,
    )  # fmt: skip
    return result, output


@needs_tomllib
def test_script_builds_the_expected_entries(tmp_path: Path) -> None:
    result, output = _run_on_directory(tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(output.read_text("utf-8"))

    assert data["models"] == EXPECTED_MODELS
    assert list(data["models"]) == sorted(EXPECTED_MODELS)
    for record in data["models"].values():
        assert tuple(record) == MODEL_FIELDS
    source = data["source"]
    assert tuple(source) == SOURCE_FIELDS
    assert source["commit"] == FAKE_COMMIT
    assert source["commit_date"] == "2026-04-01"
    assert source["retrieved"] == "2026-04-02"
    assert source["path"] == "providers/digitalocean/models"
    assert source["notes"].startswith("Fake notes.")
    for left_out in ("acme-image", "acme-old", "acme-rerank"):
        assert left_out in source["notes"]
    assert data["extra_sources"] == FAKE_EXTRA["extra_sources"]


@needs_tomllib
def test_script_rerun_is_byte_identical_and_check_passes(tmp_path: Path) -> None:
    result, output = _run_on_directory(tmp_path)
    assert result.returncode == 0, result.stderr
    first = output.read_bytes()
    # Without --retrieved: the date is kept because the commit did not change.
    again = _run(
        "--models-dev", tmp_path / "models.dev", "--commit", FAKE_COMMIT, "--commit-date", "2026-04-01",
        "--extra", tmp_path / "extra.json", "--output", output,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert output.read_bytes() == first
    check, _ = _run_on_directory(tmp_path, "--check")
    assert check.returncode == 0, check.stderr

    output.write_text(first.decode().replace("Acme Chat", "Changed"), encoding="utf-8")
    stale, _ = _run_on_directory(tmp_path, "--check")
    assert stale.returncode == 1
    assert "Changed" in output.read_text("utf-8")  # --check writes nothing


@needs_tomllib
def test_script_refuses_an_undeclared_embedding_model(tmp_path: Path) -> None:
    tree = _write_tree(tmp_path / "models.dev")
    extra = dict(FAKE_EXTRA, embedding_models={})
    result = _run(
        "--models-dev", tree, "--commit", FAKE_COMMIT, "--commit-date", "2026-04-01",
        "--extra", _write_extra(tmp_path / "extra.json", extra), "--output", tmp_path / "out.json",
    )  # fmt: skip
    assert result.returncode == 2
    assert "acme-embed" in result.stderr
    assert not (tmp_path / "out.json").exists()


@needs_tomllib
def test_script_needs_a_commit_for_a_plain_directory(tmp_path: Path) -> None:
    tree = _write_tree(tmp_path / "models.dev")
    result = _run("--models-dev", tree, "--extra", _write_extra(tmp_path / "extra.json"))
    assert result.returncode == 2
    assert "--commit" in result.stderr


@needs_tomllib
@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_script_reads_a_git_repository_at_a_commit(tmp_path: Path) -> None:
    """A git repository is read at the commit (not from the work tree) and its commit id and UTC date
    are recorded."""
    repo = _write_tree(tmp_path / "models.dev")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_AUTHOR_DATE": "2026-05-01T23:30:00-05:00",
        "GIT_COMMITTER_DATE": "2026-05-01T23:30:00-05:00",  # 2026-05-02 in UTC
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True, timeout=60
        )
        return done.stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("-c", "commit.gpgsign=false", "commit", "-q", "-m", "fake models.dev")
    head = git("rev-parse", "HEAD")
    # An uncommitted edit must not leak into the catalog.
    (repo / "providers/digitalocean/models/acme-chat.toml").write_text('name = "Dirty"\n', encoding="utf-8")

    output = tmp_path / "models.json"
    extra = _write_extra(tmp_path / "extra.json")
    result = _run("--models-dev", repo, "--extra", extra, "--output", output, "--retrieved", "2026-06-01")
    assert result.returncode == 0, result.stderr
    data = json.loads(output.read_text("utf-8"))
    assert data["source"]["commit"] == head
    assert data["source"]["commit_date"] == "2026-05-02"
    assert data["models"] == EXPECTED_MODELS

    same = _run("--models-dev", repo, "--commit", head[:12], "--extra", extra, "--output", output, "--check")
    assert same.returncode == 0, same.stderr
