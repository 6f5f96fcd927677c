"""How far `gradient_integrations.core.tokens`' offline token estimate is from real token counts.

Two measurements, both printed as mean absolute % error, p90 and max absolute % error, and bias (the
signed error of the summed counts: positive = over-estimate), with the median too:

1. Message level, against servers: every recorded `/v1/responses` request in
   `tests/fixtures/recorded/` whose whole prompt is in the request (HTTP 200 with `usage`, no
   `previous_response_id`, no hosted tools such as `web_search`): `estimate_message_tokens(input,
   instructions, tools=..., model=...)` against the recorded `usage.input_tokens`. Real counts from
   api.openai.com and vLLM, chat-template overhead included.
2. Text level, against o200k_base (and cl100k_base) itself, when they can be loaded offline: tiktoken
   (a dependency of llama-index-core) with the o200k_base / cl100k_base files that llama-index-core
   ships in `llama_index/core/_static/tiktoken_cache/`, each checked against the SHA-256 that tiktoken
   publishes before use. Nothing is downloaded: without tiktoken or those files this part is skipped,
   and the script says so. The sample: this repository's Markdown, every module of the package and the
   recorded `expected.json`, plus the short JSON, numbers, log and multilingual samples below.

    .venv/bin/python -m benchmarks.token_estimate_accuracy          # both parts, ~2 s
    .venv/bin/python -m benchmarks.token_estimate_accuracy --rows   # also one line per sample

`message_level()` and `text_level()` return the figures as dicts (the tests use `message_level()`).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import math
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradient_integrations.core.tokens import estimate_message_tokens, estimate_tokens

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "tests" / "fixtures" / "recorded"

# tiktoken's own source (tiktoken_ext/openai_public.py) names these files and their SHA-256.
_ENCODING_FILES = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}

# Written for this benchmark (not taken from anywhere, and not used to fit the estimate).
INLINE_SAMPLES: dict[str, str] = {
    "json/tool-call": (
        '{"type": "function_call", "call_id": "call_8f2a91c3", "name": "lookup_order", '
        '"arguments": "{\\"order_id\\": \\"A-10442\\", \\"include_items\\": true, \\"currency\\": '
        '\\"EUR\\"}"}\n{"type": "function_call_output", "call_id": "call_8f2a91c3", "output": '
        '"{\\"status\\": \\"shipped\\", \\"items\\": [{\\"sku\\": \\"KB-201\\", \\"qty\\": 2, '
        '\\"price\\": 49.9}, {\\"sku\\": \\"MS-77\\", \\"qty\\": 1, \\"price\\": 19.5}], '
        '\\"eta\\": \\"2024-11-03\\"}"}'
    ),
    "numbers/table": (
        "region,q1,q2,q3,q4\nnorth,120394,98211,143002,150997\nsouth,88213,91044,87652,99870\n"
        "east,230114,241998,250331,262004\nwest,45021,47788,51230,50019\ntotal,483742,479041,532215,562890\n"
        "pi=3.14159265358979 e=2.71828182845904 ratio=0.61803398874989 ts=1717171717 id=0x7f3a9c"
    ),
    "log/lines": (
        "2024-06-01T12:00:03.114Z INFO  worker-3 request_id=7c1e accepted POST /v1/responses 200 in 412ms\n"
        "2024-06-01T12:00:03.902Z WARN  worker-1 retrying (attempt 2/3) after 429: rate limited\n"
        "2024-06-01T12:00:04.017Z ERROR worker-1 upstream closed the stream after 1834 bytes\n"
    ),
    "prose/french": (
        "Le modèle répond en quelques secondes, mais la facture dépend du nombre de jetons envoyés. "
        "Avant chaque requête, l'application vérifie que l'historique tient dans la fenêtre de contexte; "
        "sinon, elle résume les échanges les plus anciens et garde les derniers messages intacts."
    ),
    "prose/german": (
        "Die Anwendung zählt vor jeder Anfrage die Token des Gesprächsverlaufs. Überschreitet er das "
        "Kontextfenster, werden ältere Nachrichten zusammengefasst, während die letzten Antworten "
        "unverändert bleiben. Das spart Kosten und verhindert Fehlermeldungen des Servers."
    ),
    "prose/spanish": (
        "Antes de enviar cada solicitud, la aplicación calcula cuántos tokens ocupa la conversación. "
        "Si supera el límite del modelo, resume los mensajes más antiguos y conserva los recientes."
    ),
    "prose/russian": (
        "Перед каждым запросом приложение оценивает, сколько токенов занимает история диалога. "
        "Если она не помещается в контекстное окно, старые сообщения сокращаются до краткого пересказа."
    ),
    "prose/chinese": (
        "在发送每个请求之前，应用程序会估算对话历史所占用的令牌数量。如果超过模型的上下文窗口，"  # noqa: RUF001
        "较早的消息会被压缩成摘要，而最近的几条回复保持不变。这样既能节省费用，也能避免服务器报错。"  # noqa: RUF001
    ),
    "prose/japanese": (
        "アプリケーションは各リクエストの前に、会話履歴が使うトークン数を見積もります。"
        "コンテキストウィンドウを超える場合は、古いメッセージを要約し、最近の返答はそのまま残します。"
    ),
    "prose/korean": (
        "애플리케이션은 요청을 보내기 전에 대화 기록이 차지하는 토큰 수를 추정합니다. "
        "컨텍스트 창을 넘으면 오래된 메시지를 요약하고 최근 답변은 그대로 유지합니다."
    ),
    "prose/hindi": (
        "हर अनुरोध भेजने से पहले ऐप्लिकेशन अनुमान लगाता है कि बातचीत का इतिहास कितने टोकन लेता है। "
        "अगर यह संदर्भ सीमा से अधिक हो, तो पुराने संदेशों का सारांश बना दिया जाता है।"
    ),
    "prose/arabic": (
        "قبل إرسال كل طلب، يقدّر التطبيق عدد الرموز التي يشغلها سجل المحادثة. "
        "إذا تجاوز نافذة السياق، يتم تلخيص الرسائل الأقدم مع الإبقاء على الردود الأخيرة كما هي."
    ),
}


@dataclass(frozen=True)
class Figures:
    """Error statistics of estimates against true counts (relative errors, as fractions)."""

    samples: int
    mean_abs: float
    median_abs: float
    p90_abs: float
    max_abs: float
    bias: float  # (sum of estimates - sum of true counts) / sum of true counts

    def line(self) -> str:
        return (
            f"n={self.samples}  mean |err| {self.mean_abs:.1%}  median {self.median_abs:.1%}  "
            f"p90 {self.p90_abs:.1%}  max {self.max_abs:.1%}  bias {self.bias:+.1%}"
        )


def figures(pairs: Sequence[tuple[int, int]]) -> Figures:
    """`Figures` for `(estimate, true)` pairs (true counts > 0)."""
    errors = sorted(abs(estimate - true) / true for estimate, true in pairs)
    total_true = sum(true for _, true in pairs)
    total_estimate = sum(estimate for estimate, _ in pairs)
    p90 = errors[min(len(errors) - 1, math.ceil(0.9 * len(errors)) - 1)]
    return Figures(
        samples=len(errors),
        mean_abs=sum(errors) / len(errors),
        median_abs=statistics.median(errors),
        p90_abs=p90,
        max_abs=errors[-1],
        bias=(total_estimate - total_true) / total_true,
    )


# --- 1. message level: recorded usage.input_tokens ---------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    name: str
    model: str
    input_tokens: int
    estimate: int
    tools: int


_CORPUS_MODULE = "_recorded_corpus_for_token_estimates"


def _load_corpus_module() -> Any:
    """`tests/fixtures/recorded/corpus.py`, loaded by path (it is not in a package)."""
    if _CORPUS_MODULE in sys.modules:
        return sys.modules[_CORPUS_MODULE]
    spec = importlib.util.spec_from_file_location(_CORPUS_MODULE, RECORDED / "corpus.py")
    if spec is None or spec.loader is None:  # pragma: no cover - the file is part of the repository
        raise RuntimeError(f"cannot load {RECORDED / 'corpus.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_CORPUS_MODULE] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def recorded_requests() -> list[RecordedRequest]:
    """Recorded requests whose whole prompt is in the request, with estimate and recorded count."""
    corpus = _load_corpus_module()
    expected = corpus.load_expected()
    rows: list[RecordedRequest] = []
    for exchange in corpus.load_corpus():
        body = exchange.request_body
        usage = (expected.get(exchange.name) or {}).get("usage")
        if exchange.status != 200 or not isinstance(body, Mapping) or not usage:
            continue
        if body.get("previous_response_id"):
            continue  # the server adds the earlier turns: not in the request
        tools: list[Mapping[str, Any]] = list(body.get("tools") or [])
        if any(tool.get("type", "function") != "function" for tool in tools):
            continue  # hosted tools (web search results...) are counted by the server
        estimate = estimate_message_tokens(
            body.get("input") or [], body.get("instructions"), tools=tools, model=str(body.get("model"))
        )
        rows.append(
            RecordedRequest(
                exchange.name, str(body.get("model")), int(usage["input_tokens"]), estimate, len(tools)
            )
        )
    return rows


def message_level() -> dict[str, Any]:
    rows = recorded_requests()
    result: dict[str, Any] = {
        "rows": rows,
        "all": figures([(row.estimate, row.input_tokens) for row in rows]),
    }
    plain = [(row.estimate, row.input_tokens) for row in rows if not row.tools]
    with_tools = [(row.estimate, row.input_tokens) for row in rows if row.tools]
    if plain:
        result["no_tools"] = figures(plain)
    if with_tools:
        result["with_tools"] = figures(with_tools)
    return result


# --- 2. text level: o200k_base / cl100k_base, offline only -----------------------------------------


def _cache_dirs() -> Iterator[Path]:
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(variable):
            yield Path(os.environ[variable])
    yield Path(tempfile.gettempdir()) / "data-gym-cache"
    try:
        spec = importlib.util.find_spec("llama_index.core")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            yield Path(location) / "_static" / "tiktoken_cache"


def offline_encoding(name: str) -> tuple[Callable[[str], int], str] | None:
    """`(count, where)` for a tiktoken encoding whose file is already on disk with the right SHA-256.

    Never downloads: tiktoken is only asked for the encoding once its cache file is known to be there
    and intact (tiktoken itself would fetch a missing file, or delete a corrupt one and fetch it).
    """
    try:
        import tiktoken
    except ImportError:
        return None
    url, sha256 = _ENCODING_FILES[name]
    key = hashlib.sha1(url.encode()).hexdigest()
    for directory in _cache_dirs():
        path = directory / key
        try:
            if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
                continue
        except OSError:
            continue
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
        try:
            encoding = tiktoken.get_encoding(name)
        finally:
            if previous is None:
                del os.environ["TIKTOKEN_CACHE_DIR"]
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = previous

        def count(text: str, encoding: Any = encoding) -> int:
            return len(encoding.encode_ordinary(text))

        return count, str(path)
    return None


def text_samples() -> dict[str, str]:
    """The text-level sample: this repository's docs, package modules and JSON, plus `INLINE_SAMPLES`."""
    samples: dict[str, str] = {}
    # The README moved most of its prose to docs/ (issue 16): read both, so the sample stays about as large.
    documents = ["README.md", "benchmarks/RESULTS.md", "tests/fixtures/recorded/README.md"]
    documents += sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "docs").glob("*.md"))
    for relative in documents:
        path = ROOT / relative
        if path.is_file():
            samples[f"docs/{relative}"] = path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "gradient_integrations").rglob("*.py")):
        samples[f"code/{path.relative_to(ROOT).as_posix()}"] = path.read_text(encoding="utf-8")
    samples["json/expected.json"] = (RECORDED / "expected.json").read_text(encoding="utf-8")
    samples.update(INLINE_SAMPLES)
    return {name: text for name, text in samples.items() if text.strip()}


def text_level() -> dict[str, Any] | None:
    """Estimate vs o200k_base (and cl100k_base) on `text_samples()`; None when o200k is unavailable."""
    o200k = offline_encoding("o200k_base")
    if o200k is None:
        return None
    count, where = o200k
    samples = text_samples()
    rows = [(name, estimate_tokens(text), count(text)) for name, text in samples.items()]
    result: dict[str, Any] = {"source": where, "rows": rows, "all": figures([(e, t) for _, e, t in rows])}
    for group in sorted({name.split("/", 1)[0] for name in samples}):
        result[group] = figures([(e, t) for name, e, t in rows if name.split("/", 1)[0] == group])
    cl100k = offline_encoding("cl100k_base")
    if cl100k is not None:
        result["cl100k_base"] = figures(
            [(estimate_tokens(text), cl100k[0](text)) for text in samples.values()]
        )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", action="store_true", help="print one line per sample")
    args = parser.parse_args(argv)

    messages = message_level()
    print("1. message level: estimate_message_tokens vs recorded usage.input_tokens")
    for key in ("all", "no_tools", "with_tools"):
        if key in messages:
            print(f"   {key:<11} {messages[key].line()}")
    if args.rows:
        for row in messages["rows"]:
            error = (row.estimate - row.input_tokens) / row.input_tokens
            counts = f"true {row.input_tokens:>5}  est {row.estimate:>5}  {error:+.1%}"
            print(f"     {row.name:<76} {row.model:<24} {counts}")

    text = text_level()
    if text is None:
        print(
            "2. text level: skipped: no o200k_base available offline (needs tiktoken plus the o200k_base "
            "file that llama-index-core ships, or one already in tiktoken's cache); nothing is downloaded"
        )
        return 0
    print(f"2. text level: estimate_tokens vs o200k_base ({text['source']})")
    for key, value in text.items():
        if isinstance(value, Figures) and key != "cl100k_base":
            print(f"   {key:<11} {value.line()}")
    if "cl100k_base" in text:
        print(f"   vs cl100k_base: {text['cl100k_base'].line()}")
    if args.rows:
        for name, estimate, true in text["rows"]:
            print(f"     {name:<64} true {true:>6}  est {estimate:>6}  {(estimate - true) / true:+.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
