"""Declarative hyperparameter schemas that fail the way the built-in algorithms do.

A schema lists :class:`Hyperparameter` objects in the algorithm's own order (required ones in the
order SageMaker names them when missing) plus hidden ``_``-prefixed defaults. Validation takes the
string map from ``hyperparameters.json`` and either returns typed values or raises
:class:`~.errors.HyperparameterError` whose failure text is SageMaker's, e.g.::

    ClientError: No value(s) were specified for 'k', 'feature_dim' which are required hyperparameter(s)
        (caused by ValidationError)
    ClientError: Additional hyperparameters are not allowed ('foo' was unexpected) (caused by ValidationError)
    ClientError: The value 'x' is not valid for the 'init_method' hyperparameter which accepts one of the
        following: 'random', 'kmeans++' (caused by ValidationError)
    ClientError: The value '0' is not valid for the 'k' hyperparameter which expects one of the following:
        a string which matches the pattern '^([1-9][0-9]*)$'; or an integer greater than 1 (caused by ValidationError)

(each on one line in reality).

(The last wording comes from the service's schema pretty-printer, which prints a JSON-schema
``minimum`` as "greater than"; we keep it verbatim.) Order of checks: missing required names, then
unknown names (sorted, as jsonschema reports them), then each value in schema order. Names starting
with ``_`` are always accepted.

Values arrive as strings (``"10"``, ``"True"``, ``'["msd", "ssd"]'``) but JSON numbers, booleans
and lists are accepted too.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .errors import ClientError, HyperparameterError

AUTO = "auto"

_POSITIVE = "[1-9][0-9]*"
_NON_NEGATIVE = "[0-9]+"
_SIGNED = "-?[0-9]+"
_FLOAT = r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?"


def _render(raw: Any) -> str:
    if isinstance(raw, bool):
        return "True" if raw else "False"
    if isinstance(raw, (list, dict)):
        return json.dumps(raw)
    return str(raw)


@dataclass(frozen=True)
class Hyperparameter:
    """Base: a name, whether it is required, and its default as the string the defaults file holds."""

    name: str
    required: bool = False
    default: str | None = None

    def parse(self, raw: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _fail(self, raw: Any, expectation: str) -> HyperparameterError:
        return HyperparameterError(
            f"The value '{_render(raw)}' is not valid for the '{self.name}' hyperparameter which {expectation}"
        )

    def _one_of(self, raw: Any, pattern: str, number: str) -> HyperparameterError:
        return self._fail(raw, "expects one of the following: "
                               f"a string which matches the pattern '{pattern}'; or {number}")


def _range_words(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" between {minimum} and {maximum}"
    if minimum is not None:
        return f" greater than {minimum}"
    if maximum is not None:
        return f" less than {maximum}"
    return ""


@dataclass(frozen=True)
class Integer(Hyperparameter):
    """An integer in ``[minimum, maximum]``; with ``allow_auto`` the string ``auto`` (returned as-is)."""

    minimum: int | None = None
    maximum: int | None = None
    allow_auto: bool = False

    @property
    def _body(self) -> str:
        if self.minimum is not None and self.minimum >= 1:
            return _POSITIVE
        return _NON_NEGATIVE if self.minimum == 0 else _SIGNED

    @property
    def pattern(self) -> str:
        return f"^({AUTO}|{self._body})$" if self.allow_auto else f"^({self._body})$"

    def parse(self, raw: Any) -> int | str:
        if self.allow_auto and isinstance(raw, str) and raw == AUTO:
            return AUTO
        value: int | None = None
        if isinstance(raw, bool):
            value = None
        elif isinstance(raw, int):
            value = raw
        elif isinstance(raw, float) and raw.is_integer():
            value = int(raw)
        elif isinstance(raw, str) and re.fullmatch(self._body, raw):
            value = int(raw)
        if value is None or (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum):
            raise self._one_of(raw, self.pattern, "an integer" + _range_words(self.minimum, self.maximum))
        return value


@dataclass(frozen=True)
class Float(Hyperparameter):
    """A finite number in ``[minimum, maximum]`` (open ends with ``exclusive_*``); optional ``auto``."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    allow_auto: bool = False

    @property
    def pattern(self) -> str:
        return f"^({AUTO}|{_FLOAT})$" if self.allow_auto else f"^{_FLOAT}$"

    def parse(self, raw: Any) -> float | str:
        if self.allow_auto and isinstance(raw, str) and raw == AUTO:
            return AUTO
        value: float | None = None
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            value = float(raw)
        elif isinstance(raw, str) and re.fullmatch(_FLOAT, raw.strip()):
            value = float(raw)
        if value is None or not math.isfinite(value) or not self._in_range(value):
            raise self._one_of(raw, self.pattern, "a number" + _range_words(self.minimum, self.maximum))
        return value

    def _in_range(self, value: float) -> bool:
        if self.minimum is not None and (value < self.minimum or (self.exclusive_minimum and value == self.minimum)):
            return False
        if self.maximum is not None and (value > self.maximum or (self.exclusive_maximum and value == self.maximum)):
            return False
        return True


@dataclass(frozen=True)
class Categorical(Hyperparameter):
    """One of ``choices`` (exact match unless ``case_sensitive`` is False)."""

    choices: tuple[str, ...] = ()
    case_sensitive: bool = True

    def parse(self, raw: Any) -> str:
        text = _render(raw)
        for choice in self.choices:
            if text == choice or (not self.case_sensitive and text.lower() == choice.lower()):
                return choice
        raise self._fail(raw, "accepts one of the following: " + ", ".join(f"'{c}'" for c in self.choices))


@dataclass(frozen=True)
class Boolean(Hyperparameter):
    """``true``/``false`` in any case (the SDK sends ``True``/``False``), or a JSON boolean."""

    def parse(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise self._fail(raw, "accepts one of the following: 'true', 'false'")


@dataclass(frozen=True)
class JsonList(Hyperparameter):
    """A JSON list (any whitespace) whose items are among ``choices`` when given."""

    choices: tuple[str, ...] | None = None

    def parse(self, raw: Any) -> list:
        value = raw
        if isinstance(raw, str):
            try:
                value = json.loads(raw)
            except ValueError:
                raise ClientError(f"Hyperparameter must be valid json, but found {self.name}:") from None
        if not isinstance(value, list):
            raise self._fail(raw, "expects a JSON list")
        if self.choices is not None:
            for item in value:
                if item not in self.choices:
                    raise self._fail(item, "accepts one of the following: "
                                     + ", ".join(f"'{c}'" for c in self.choices))
        return value


class HyperparameterSchema:
    """An algorithm's hyperparameters: validation, defaults and the three configuration log lines."""

    def __init__(self, parameters: Sequence[Hyperparameter], hidden_defaults: Mapping[str, str] | None = None,
                 default_order: Iterable[str] | None = None) -> None:
        self.parameters = list(parameters)
        self.by_name = {p.name: p for p in self.parameters}
        self.hidden_defaults = dict(hidden_defaults or {})
        order = list(default_order) if default_order is not None else [p.name for p in self.parameters]
        self._default_order = [name for name in order if self.by_name[name].default is not None]

    @property
    def defaults(self) -> dict[str, str]:
        """The defaults file: visible defaults in the algorithm's order, then hidden ones."""
        values = {name: self.by_name[name].default for name in self._default_order}
        values.update(self.hidden_defaults)
        return values  # type: ignore[return-value]

    def merged(self, provided: Mapping[str, Any]) -> dict[str, Any]:
        final = dict(self.defaults)
        final.update(provided)
        return final

    def validate(self, provided: Mapping[str, Any]) -> dict[str, Any]:
        """Typed values of every declared hyperparameter (None when absent without default)."""
        missing = [p.name for p in self.parameters if p.required and p.name not in provided]
        if missing:
            names = ", ".join(f"'{name}'" for name in missing)
            raise HyperparameterError(
                f"No value(s) were specified for {names} which are required hyperparameter(s)")
        unknown = sorted((name for name in provided if name not in self.by_name and not name.startswith("_")),
                         key=str)
        if unknown:
            verb = "was" if len(unknown) == 1 else "were"
            names = ", ".join(repr(name) for name in unknown)
            raise HyperparameterError(f"Additional hyperparameters are not allowed ({names} {verb} unexpected)")
        merged = self.merged(provided)
        typed: dict[str, Any] = {}
        for parameter in self.parameters:
            raw = merged.get(parameter.name)
            typed[parameter.name] = None if raw is None else parameter.parse(raw)
        return typed

    def load(self, provided: Mapping[str, Any], *, defaults_source: str, provided_source: str,
             logger: logging.Logger | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Log the three configuration lines, validate, and return (final string map, typed values)."""
        logger = logger or logging.getLogger(__name__)
        logger.info("Reading default configuration from %s: %s", defaults_source, self.defaults)
        logger.info("Merging with provided configuration from %s: %s", provided_source, dict(provided))
        final = self.merged(provided)
        logger.info("Final configuration: %s", final)
        return final, self.validate(provided)
