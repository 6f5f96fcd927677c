"""LlamaIndex models whose one long text field is computed when first read, then plain models again.

Every streamed LlamaIndex `ChatResponse` carries the whole answer so far in its message (the contract
llama-index-core's own LLMs keep with `content += delta`). A `str` per response, built as the response
is yielded, is a copy of everything so far: n characters in small deltas cost O(n²) character copies,
whether or not anyone reads them (2 MB in 64-character deltas: 32,768 copies of up to 2 MB). Most
consumers read only `delta`; the few that read the text pay for it when they do (and a read of the latest
response costs what the eager copy cost).

`deferred(cls, compute, ...)` makes an instance of `cls` (a `TextBlock`, `ThinkingBlock` or
`CompletionResponse`) whose `field` is missing until first used: reading it, `__dict__` (which pydantic
reads to serialize, compare, copy, pickle and print a model, including as a nested field of another
model), `==`, `repr`, `copy`/`deepcopy` and pickling all compute it first. Computing stores the value and
turns the instance into a plain `cls` (same layout, so `__class__` can be reassigned), so from then on it
is indistinguishable from one built eagerly, and `isinstance(block, TextBlock)` holds throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, cast

from llama_index.core.base.llms.types import CompletionResponse, TextBlock, ThinkingBlock
from pydantic import BaseModel

__all__ = [
    "DeferredCompletionResponse",
    "DeferredField",
    "DeferredTextBlock",
    "DeferredThinkingBlock",
    "deferred",
]

# The instance's own attribute dict, reached past the `__dict__` property below (a slot of BaseModel).
_OWN_DICT: Any = BaseModel.__dict__["__dict__"]

M = TypeVar("M", bound=BaseModel)


class DeferredField:
    """Mixin: `_field` of this pydantic model is `compute()`d on first use; then it is a plain `_plain`.

    While deferred, `__pydantic_private__` (None on the plain classes, which have no private attributes)
    holds the zero-argument `compute`; computing clears it, so nothing of it is left to copy or pickle.
    """

    __slots__ = ()
    _plain: ClassVar[type[BaseModel]]
    _field: ClassVar[str]
    _after: ClassVar[tuple[str, ...]] = ()  # the fields declared after `_field`
    _defaults: ClassVar[dict[str, Any]] = {}  # every other field's default, in field order
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {}  # defaults made per instance

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_field" in vars(cls):
            fields = cls._plain.model_fields
            names = list(fields)
            cls._after = tuple(names[names.index(cls._field) + 1 :])
            cls._defaults = {name: info.default for name, info in fields.items() if name != cls._field}
            cls._factories = {
                name: cast(Callable[[], Any], fields[name].default_factory)
                for name in cls._defaults
                if fields[name].default_factory is not None
            }
            if any(
                getattr(fields[name], "default_factory_takes_validated_data", False)
                for name in cls._factories
            ):
                raise TypeError(f"{cls._plain.__name__}: a default factory that takes data is not supported")

    def _materialize(self) -> None:
        compute = object.__getattribute__(self, "__pydantic_private__")
        if callable(compute):  # else computed already (by another thread)
            own = _OWN_DICT.__get__(self)
            own[self._field] = compute()
            for name in self._after:  # back in field order, which repr and JSON output follow
                if name in own:
                    own[name] = own.pop(name)
            object.__setattr__(self, "__pydantic_private__", None)
            object.__setattr__(self, "__class__", self._plain)

    @property  # deliberately shadows the instance dict (see the module docstring)
    def __dict__(self) -> dict[str, Any]:
        self._materialize()
        own: dict[str, Any] = _OWN_DICT.__get__(self)
        return own

    @__dict__.setter
    def __dict__(self, value: dict[str, Any]) -> None:
        _OWN_DICT.__set__(self, value)

    def __getattr__(self, name: str) -> Any:
        if name == type(self)._field:
            self._materialize()
            return _OWN_DICT.__get__(self)[name]
        return cast(Any, super()).__getattr__(name)

    # Each of these reads the class or __pydantic_private__ before __dict__: compute first, then run the
    # plain class's own method (the instance is a plain one by then, so no super() from here).
    def __eq__(self, other: object) -> bool:
        self._materialize()
        if isinstance(other, DeferredField):
            other._materialize()
        return self == other

    def __repr__(self) -> str:
        self._materialize()
        return repr(self)

    def __copy__(self) -> Any:
        self._materialize()
        return cast(Any, self).__copy__()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Any:
        self._materialize()
        return cast(Any, self).__deepcopy__(memo)

    def __reduce_ex__(self, protocol: Any) -> Any:
        self._materialize()
        return self.__reduce_ex__(protocol)

    def __getstate__(self) -> Any:
        self._materialize()
        return cast(Any, self).__getstate__()

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        self._materialize()
        return cast(BaseModel, self).model_dump(**kwargs)

    def model_dump_json(self, **kwargs: Any) -> str:
        self._materialize()
        return cast(BaseModel, self).model_dump_json(**kwargs)


class DeferredTextBlock(DeferredField, TextBlock):
    _plain = TextBlock
    _field = "text"


class DeferredThinkingBlock(DeferredField, ThinkingBlock):
    _plain = ThinkingBlock
    _field = "content"


class DeferredCompletionResponse(DeferredField, CompletionResponse):
    _plain = CompletionResponse
    _field = "text"


def deferred(cls: type[M], compute: Callable[[], Any], /, **values: Any) -> M:
    """A `cls` (a `DeferredField` model) with `values`, its other fields' defaults and `compute` pending.

    Its `model_fields_set` is what `cls._plain(**values, <field>=...)` would have: the field and `values`.
    """
    spec = cast(type[DeferredField], cls)
    own = spec._defaults.copy()
    for name, factory in spec._factories.items():
        if name not in values:
            own[name] = factory()
    own.update(values)
    instance = cls.__new__(cls)
    _OWN_DICT.__set__(instance, own)
    object.__setattr__(instance, "__pydantic_fields_set__", {spec._field, *values})
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", compute)
    return instance
