"""The package as users get it: the sdist and wheel built, the wheel installed per extra into fresh
virtualenvs, and a smoke against the local server in each.

Everything runs offline: the wheel is built with the dev environment's hatchling (no build isolation) and
installed with `uv --offline` from the cache `make install` filled, within `.ci/constraints.txt`. Each venv
runs from a temporary directory, so it imports the installed wheel, never this checkout.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import NamedTuple

import pytest

from devtools.notebooks import keyless_environment
from gradient_integrations import __version__
from gradient_integrations.core.settings import ENDPOINT_ENV_VAR
from gradient_integrations.local import LocalServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
MODEL = "openai-gpt-oss-20b"
OPTIONAL = ("langchain", "llama-index", "local")
# extra -> the optional parts that must be missing (each with its pip hint) in that venv
EXTRAS = {
    "core": ("langchain", "llama-index", "local"),
    "langchain": ("llama-index", "local"),
    "llama-index": ("langchain", "local"),
    "all": (),
}

SMOKE = r"""
import importlib, importlib.metadata, json, sys
import gradient_integrations as gi
from gradient_integrations.core import ResponsesClient, build_request

model = sys.argv[1]
report = {"version": gi.__version__, "dist_version": importlib.metadata.version("gradient-integrations")}
report["file"] = gi.__file__
for helper in ("gradient_integrations.testing", "devtools"):
    try:
        importlib.import_module(helper)
        report.setdefault("shipped_helpers", []).append(helper)
    except ModuleNotFoundError:
        pass
with ResponsesClient() as client:
    report["core"] = client.create(build_request(model=model, input="ping from the core")).text
missing = {}
for module, extra in [
    ("gradient_integrations.langchain", "langchain"),
    ("gradient_integrations.llama_index", "llama-index"),
    ("gradient_integrations.local", "local"),
]:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing[extra] = str(exc)
report["missing"] = missing
if "langchain" not in missing:
    from langchain_core.tools import tool
    from gradient_integrations.langchain import ChatGradient

    @tool
    def get_weather(city: str) -> str:
        "Current weather for a city."
        return "sunny"

    llm = ChatGradient(model=model)
    report["langchain"] = llm.invoke("ping from LangChain").text
    report["langchain_stream"] = "".join(chunk.text for chunk in llm.stream("stream from LangChain"))
    call = llm.bind_tools([get_weather]).invoke('Use get_weather for "Paris".')
    report["langchain_tool"] = [tool_call["name"] for tool_call in call.tool_calls]
if "llama-index" not in missing:
    from llama_index.core.llms import ChatMessage
    from gradient_integrations.llama_index import GradientLLM

    llm = GradientLLM(model=model)
    answer = llm.chat([ChatMessage(role="user", content="ping from LlamaIndex")])
    report["llama_index"] = answer.message.content
    chunks = llm.stream_chat([ChatMessage(role="user", content="stream from LlamaIndex")])
    report["llama_index_stream"] = "".join(chunk.delta or "" for chunk in chunks)
print(json.dumps(report))
"""


def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )
    assert done.returncode == 0, f"{args}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def keyless_env(endpoint: str | None) -> dict[str, str]:
    env = keyless_environment()
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    if endpoint is not None:
        env[ENDPOINT_ENV_VAR] = endpoint
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--offline", "--no-build-isolation", "--python", sys.executable, "--out-dir", out, REPO)
    return out


def wheel_of(dist: Path) -> Path:
    (wheel,) = dist.glob("*.whl")
    return wheel


class Venv(NamedTuple):
    extra: str  # "core" for the bare wheel
    root: Path

    def bin(self, name: str) -> Path:
        return self.root / "bin" / name


@pytest.fixture(scope="module", params=list(EXTRAS))
def venv(request: pytest.FixtureRequest, dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    extra: str = request.param
    root = tmp_path_factory.mktemp(f"venv-{extra}")
    run(UV, "venv", "--offline", "--quiet", "--python", sys.executable, root)
    target = str(wheel_of(dist)) + ("" if extra == "core" else f"[{extra}]")
    python = root / "bin" / "python"
    constraints = REPO / ".ci" / "constraints.txt"
    run(UV, "pip", "install", "--offline", "--quiet", "--python", python, target, "-c", constraints)
    return Venv(extra, root)


def test_the_wheel_holds_the_package_its_license_and_entry_points_but_no_dev_tools(dist: Path) -> None:
    with zipfile.ZipFile(wheel_of(dist)) as wheel:
        names = wheel.namelist()
        info = next(name for name in names if name.endswith(".dist-info/METADATA")).rsplit("/", 1)[0]
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert f"{info}/licenses/LICENSE" in names
    assert "gradient_integrations/py.typed" in names
    assert not [name for name in names if name.startswith(("gradient_integrations/testing/", "devtools/"))]
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/"))]
    assert re.search(rf"^Version: {re.escape(__version__)}$", metadata, re.M)
    assert "License-Expression: MIT" in metadata
    for extra in (*OPTIONAL, "all", "ray"):
        assert f"Provides-Extra: {extra}" in metadata
    assert "gradient-local-server = gradient_integrations._cli:local_server" in entry_points
    assert "gradient-demo = gradient_integrations.demo:main" in entry_points


def test_the_sdist_holds_what_a_contributor_needs(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("LICENSE", "README.md", "Makefile", "pyproject.toml", "devtools/cassettes.py"):
        assert needed in names
    assert "tests/conftest.py" in names and ".ci/constraints.txt" in names
    assert not [name for name in names if ".venv/" in name or "__pycache__" in name]


def test_each_extra_installs_and_talks_to_the_local_server(
    venv: Venv, local_server: LocalServer, tmp_path: Path
) -> None:
    extra = venv.extra
    out = run(venv.bin("python"), "-c", SMOKE, MODEL, env=keyless_env(local_server.base_url), cwd=tmp_path)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["version"] == report["dist_version"] == __version__
    assert str(venv.root) in report["file"]  # the installed wheel, not this checkout
    assert "shipped_helpers" not in report
    assert "ping from the core" in report["core"]
    assert sorted(report["missing"]) == sorted(EXTRAS[extra])
    for absent, message in report["missing"].items():
        assert f'pip install "gradient-integrations[{absent}]"' in message
    if extra in ("langchain", "all"):
        assert "ping from LangChain" in report["langchain"]
        assert "stream from LangChain" in report["langchain_stream"]
        assert report["langchain_tool"] == ["get_weather"]
    if extra in ("llama-index", "all"):
        assert "ping from LlamaIndex" in report["llama_index"]
        assert "stream from LlamaIndex" in report["llama_index_stream"]


def test_the_demo_entry_point_runs_the_halves_it_can(
    venv: Venv, local_server: LocalServer, tmp_path: Path
) -> None:
    extra = venv.extra
    demo = venv.bin("gradient-demo")
    out = run(demo, "--base-url", local_server.base_url, env=keyless_env(None), cwd=tmp_path)
    langchain = "=== LangChain: ChatGradient" in out
    llama_index = "=== LlamaIndex: GradientLLM" in out
    assert langchain == (extra in ("langchain", "all"))
    assert llama_index == (extra in ("llama-index", "all"))
    if not langchain:
        assert 'LangChain half skipped: pip install "gradient-integrations[langchain]"' in out
    if not llama_index:
        assert 'LlamaIndex half skipped: pip install "gradient-integrations[llama-index]"' in out
    if extra == "core":
        assert "=== The core: ResponsesClient" in out
    assert re.search(r"Done: [1-9]\d* steps", out)


def test_without_a_key_or_the_local_extra_the_demo_says_what_to_install(venv: Venv, tmp_path: Path) -> None:
    extra = venv.extra
    if extra == "all":
        return  # [all] has the local server: covered by the console script test below
    done = subprocess.run(
        [str(venv.bin("gradient-demo"))], capture_output=True, text=True, env=keyless_env(None), cwd=tmp_path
    )
    assert done.returncode == 1
    assert 'pip install "gradient-integrations[local]"' in done.stderr
    assert "Traceback" not in done.stderr


def test_the_local_server_entry_point_serves_from_the_installed_wheel(venv: Venv, tmp_path: Path) -> None:
    extra = venv.extra
    script = venv.bin("gradient-local-server")
    if extra != "all":
        done = subprocess.run(
            [str(script)], capture_output=True, text=True, env=keyless_env(None), cwd=tmp_path
        )
        assert done.returncode == 1
        first_line = "gradient-local-server: gradient_integrations.local needs the 'local' extra"
        assert done.stderr.startswith(first_line)
        assert 'pip install "gradient-integrations[local]"' in done.stderr
        assert "Traceback" not in done.stderr
        return
    server = subprocess.Popen(
        [str(script), "--port", "0"], stdout=subprocess.PIPE, text=True, env=keyless_env(None), cwd=tmp_path
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        out = run(venv.bin("python"), "-c", SMOKE, MODEL, env=keyless_env(match.group(1)), cwd=tmp_path)
        assert "ping from the core" in json.loads(out.strip().splitlines()[-1])["core"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()
