"""Search: SageMaker's query API over training jobs, endpoints and models.

A search compiles its ``SearchExpression`` once into a predicate, then runs it over the store's
in-memory copy of the resources (see :class:`~.store.ResourceStore`), never over SQLite's JSON text.
Property names are checked against the botocore shape of the record Search returns (``TrainingJob``,
``Endpoint``, ``ModelDashboardModel``), so any property of those shapes can be filtered and sorted
on, and the shape says whether a value is text, a number, a timestamp or a Boolean:

* ``Tags.<key>`` is the value of that tag; ``Metrics.<name>`` (training jobs) is the ``Value`` of
  that entry of ``FinalMetricDataList``; ``HyperParameters.<name>``, ``Environment.<name>`` are map
  entries (the key is everything after the first dot, dots included).
* A path that crosses a list (``InputDataConfig.ChannelName``) has one value per element; a filter
  holds when any of them satisfies it (``NotEquals`` and ``NotExists``: when none does).
  ``NestedFilters`` instead require one element to satisfy all their filters together.
* Numbers compare as numbers and timestamps as instants (``Value``: ISO 8601, naive meaning UTC, or
  epoch seconds). Text compares exactly (case-sensitive); ``GreaterThan`` and friends are not for text
  properties (AWS documents them as not supported), except that a numeric ``Value`` compares
  hyperparameters and tag values numerically (AWS's rule for hyperparameters: an integer ``Value``
  truncates decimal values to integers, a decimal ``Value`` compares them as decimals; ``Equals``
  matches the same text or the same number, untruncated). ``In`` and ``Contains`` are for text
  properties only; ``In`` takes comma-separated values (spaces around each are ignored).
* A filter with neither ``Operator`` nor ``Value`` is ``Exists``; with only a ``Value``, ``Equals``.
* Sorting: ``SortBy`` (default ``LastModifiedTime``; ``Model.CreationTime`` for models, whose records
  have no modification time) and ``SortOrder`` (default ``Descending``). Records without a value for
  the sort property come last in either order (the search engines behind such APIs do the same)
  rather than being dropped; ties go by name, in the same direction. A path with several values
  sorts by its smallest (ascending) or largest (descending).
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
import math
import operator
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sagemaker_emulator.aws import specs
from sagemaker_emulator.aws.dispatch import RequestContext, operation
from sagemaker_emulator.aws.errors import AwsError, validation_exception
from sagemaker_emulator.aws.protocols.base import parse_timestamp
from sagemaker_emulator.services.sagemaker.store import Resource, public

MAX_EXPRESSION_ELEMENTS = 50  # Filters, NestedFilters and SubExpressions in one SearchExpression, recursively
DEFAULT_MAX_RESULTS = 10
CONTAINS_LIMIT = 1

NUMBER, TIME, TEXT, BOOL, OBJECT = "number", "timestamp", "text", "Boolean", "object"
_SHAPE_KINDS = {
    "string": TEXT, "timestamp": TIME, "boolean": BOOL,
    "integer": NUMBER, "long": NUMBER, "float": NUMBER, "double": NUMBER,
}
RANGE_OPERATORS = ("GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo")
_INTEGER = re.compile(r"[+-]?\d+")
Values = tuple  # the values a property has in one record; empty when it has none


@dataclass(frozen=True)
class SearchableResource:
    resource: str  # the Search ``Resource`` value
    kind: str  # the store's kind
    record_shape: str  # the botocore shape of the record
    default_sort: str
    metrics: bool = False  # Metrics.<name> is a property


RESOURCES = {
    "TrainingJob": SearchableResource("TrainingJob", "TrainingJob", "TrainingJob", "LastModifiedTime", metrics=True),
    "Endpoint": SearchableResource("Endpoint", "Endpoint", "Endpoint", "LastModifiedTime"),
    "Model": SearchableResource("Model", "Model", "ModelDashboardModel", "Model.CreationTime"),
}


# --------------------------------------------------------------------------- what a record looks like


class Subject:
    """One record as the compiled expression reads it: the document to walk, plus the top-level
    tags and metrics as dictionaries (built once per stored entry and kept in its memo)."""

    __slots__ = ("entry", "name", "doc", "tags", "tag_list", "metrics")

    def __init__(self, entry: Resource, doc: dict[str, Any], tag_list: tuple, metrics: dict[str, float]) -> None:
        self.entry = entry
        self.name = entry.name
        self.doc = doc
        self.tag_list = tag_list
        self.tags = {tag["Key"]: tag["Value"] for tag in tag_list}
        self.metrics = metrics


def _training_job_subject(entry: Resource) -> Subject:
    subject = entry.memo.get("search")
    if subject is None:
        metrics = {}
        for metric in entry.document.get("FinalMetricDataList") or ():
            value = metric.get("Value")
            if isinstance(value, (int, float)):
                metrics[metric.get("MetricName")] = float(value)
        subject = entry.memo["search"] = Subject(entry, entry.document, entry.tags, metrics)
    return subject


def _endpoint_subject(entry: Resource) -> Subject:
    subject = entry.memo.get("search")
    if subject is None:
        subject = entry.memo["search"] = Subject(entry, entry.document, entry.tags, {})
    return subject


def _model_subjects(entries: tuple[Resource, ...], endpoints: tuple[Resource, ...]) -> list[Subject]:
    """Model records join the endpoints that serve each model (through the configuration each
    endpoint deployed)."""
    serving: dict[str, list[dict[str, Any]]] = {}
    for endpoint in endpoints:
        document = endpoint.document
        config = document.get("_Config") or {}
        summary = {key: document[key] for key in
                   ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")
                   if key in document}
        for model_name in {variant.get("ModelName", "").lower() for variant in config.get("ProductionVariants", ())}:
            serving.setdefault(model_name, []).append(summary)
    subjects = []
    for entry in entries:
        model = entry.memo.get("search-model")
        if model is None:
            model = entry.memo["search-model"] = {**public(entry.document), "Tags": list(entry.tags)}
        served = sorted(serving.get(entry.name.lower(), ()), key=lambda summary: summary["EndpointName"])
        subjects.append(Subject(entry, {"Model": model, "Endpoints": served}, (), {}))
    return subjects


class Corpus:
    """The records of one resource type as of one store snapshot, with the indexes built on them
    so far. Kept in the snapshot's memo: it lives exactly as long as nothing changes."""

    def __init__(self, subjects: list[Subject]) -> None:
        self.subjects = subjects
        self._indexes: dict[str, dict[Any, list[Subject]]] = {}

    def index(self, prop: "Property") -> dict[Any, list[Subject]]:
        """Value -> records, for a single-valued text property (built on first use)."""
        index = self._indexes.get(prop.name)
        if index is None:
            index = {}
            one = prop.one
            for subject in self.subjects:
                value = one(subject)
                if isinstance(value, str):
                    index.setdefault(value, []).append(subject)
            self._indexes[prop.name] = index
        return index


def corpus_of(store, spec: SearchableResource) -> Corpus:
    snapshot = store.snapshot(spec.kind)
    if spec.resource == "Model":
        endpoints = store.snapshot("Endpoint")
        cached = snapshot.memo.get("search")
        if cached is None or cached[0] is not endpoints:
            cached = snapshot.memo["search"] = (
                endpoints, Corpus(_model_subjects(snapshot.entries, endpoints.entries))
            )
        return cached[1]
    corpus = snapshot.memo.get("search")
    if corpus is None:
        build = _training_job_subject if spec.resource == "TrainingJob" else _endpoint_subject
        corpus = snapshot.memo["search"] = Corpus([build(entry) for entry in snapshot.entries])
    return corpus


def record_of(spec: SearchableResource, subject: Subject) -> dict[str, Any]:
    """The ``SearchRecord`` of one result."""
    if spec.resource == "Model":
        return {"Model": subject.doc}
    return {spec.resource: {**public(subject.doc), "Tags": list(subject.tag_list)}}


# --------------------------------------------------------------------------- properties


@dataclass(frozen=True)
class Property:
    name: str
    kind: str  # NUMBER, TIME, TEXT, BOOL or OBJECT
    get: Callable[[Any], Values]  # the property's values in a record (Subject) or a list element (dict)
    one: Callable[[Any], Any] | None = None  # single-valued properties: the value or None
    numeric_text: bool = False  # text that compares as numbers against a numeric Value
    element_shape: Any = None  # for a list property: the shape of its elements (NestedFilters)
    # ("metrics" | "tags" | "doc", key): the value is ``subject.<that>.get(key)``; lets the compiler
    # build one-call predicates and sort keys for the most common properties
    source: tuple[str, str] | None = None


def _model_shape(name: str):
    return specs.service_model("sagemaker").shape_for(name)


_PROPERTY_HINTS = {
    "TrainingJob": "a member of the TrainingJob search record (such as TrainingJobStatus or "
                   "ModelArtifacts.S3ModelArtifacts), Tags.<key>, HyperParameters.<name> or Metrics.<name>",
    "Endpoint": "a member of the Endpoint search record (such as EndpointStatus) or Tags.<key>",
    "Model": "a member of the Model search record (such as Model.ModelName, Model.Tags.<key> or "
             "Endpoints.EndpointName)",
}


def invalid_property(name: str, resource: str) -> AwsError:
    return validation_exception(
        f'"{name}" is not a valid property name for resource type {resource}. Use '
        f"{_PROPERTY_HINTS.get(resource, 'a member of its search record')}."
    )


def _from_one(one: Callable[[Any], Any]) -> Callable[[Any], Values]:
    def get(start) -> Values:
        value = one(start)
        return () if value is None else (value,)

    return get


def resolve_property(spec: SearchableResource, name: str) -> Property:
    """The property ``name`` of a record of ``spec`` (a ValidationException if it has none)."""
    head, _, rest = name.partition(".")
    shape = _model_shape(spec.record_shape)
    if spec.metrics and head == "Metrics" and rest:
        one = lambda subject: subject.metrics.get(rest)  # noqa: E731
        return Property(name, NUMBER, _from_one(one), one, source=("metrics", rest))
    if head == "Tags" and "Tags" in shape.members:
        if rest:
            one = lambda subject: subject.tags.get(rest)  # noqa: E731
            return Property(name, TEXT, _from_one(one), one, numeric_text=True, source=("tags", rest))
        return Property(name, OBJECT, lambda subject: subject.tag_list, element_shape=shape.members["Tags"].member)
    steps, kind, numeric_text, element_shape = _resolve_steps(shape, name.split("."), name, spec.resource)
    one = _single(steps, from_subject=True)
    get = _from_one(one) if one is not None else _walker(steps, from_subject=True)
    source = ("doc", steps[0][1]) if len(steps) == 1 and steps[0][0] == "member" else None
    return Property(name, kind, get, one, numeric_text, element_shape, source)


def resolve_element_property(element_shape, name: str, relative: str, resource: str) -> Property:
    """A property of the elements of a list property (the filters of a NestedFilters)."""
    steps, kind, numeric_text, element = _resolve_steps(element_shape, relative.split("."), name, resource)
    one = _single(steps, from_subject=False)
    get = _from_one(one) if one is not None else _walker(steps, from_subject=False)
    return Property(name, kind, get, one, numeric_text, element)


def _resolve_steps(shape, segments: list[str], name: str, resource: str):
    """Walk ``segments`` down ``shape``: the steps to take on a value, and what the leaf is."""
    steps: list[tuple] = []
    element_shape = None
    numeric_text = False
    index = 0
    while True:
        while shape.type_name == "list":
            steps.append(("each",))
            element_shape = shape.member
            shape = shape.member
        if index == len(segments):
            break
        segment = segments[index]
        if shape.type_name == "structure":
            if not segment or segment not in shape.members:
                raise invalid_property(name, resource)
            member = shape.members[segment]
            steps.append(("member", segment))
            if member.type_name == "list" and member.member.name == "Tag" and index + 1 < len(segments):
                steps.append(("tag", ".".join(segments[index + 1:])))  # <...>.Tags.<key>
                return steps, TEXT, True, None
            shape = member
            index += 1
        elif shape.type_name == "map":
            # Map keys may hold dots: the key is the rest of the name. String values (hyperparameters,
            # environment variables) compare numerically against a numeric Value.
            steps.append(("key", ".".join(segments[index:])))
            shape = shape.value
            numeric_text = True
            index = len(segments)
        else:
            raise invalid_property(name, resource)  # a path below a scalar
    if shape.type_name in _SHAPE_KINDS:
        kind = _SHAPE_KINDS[shape.type_name]
        return steps, kind, numeric_text and kind == TEXT, None
    ends_in_list = bool(steps) and steps[-1][0] == "each"
    return steps, OBJECT, False, element_shape if ends_in_list else None


def _single(steps: list[tuple], from_subject: bool) -> Callable[[Any], Any] | None:
    """For a path that crosses no list: a function giving its value (or None); else None."""
    if any(step[0] in ("each", "tag") for step in steps):
        return None
    keys = [step[1] for step in steps]
    if from_subject and len(keys) == 1:
        key = keys[0]
        return lambda subject: subject.doc.get(key)
    if from_subject and len(keys) == 2:
        outer, inner = keys

        def two(subject) -> Any:
            value = subject.doc.get(outer)
            return value.get(inner) if isinstance(value, dict) else None

        return two

    def chain(start) -> Any:
        value = start.doc if from_subject else start
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return chain


def _walker(steps: list[tuple], from_subject: bool) -> Callable[[Any], Values]:
    """A function giving every value at the end of ``steps`` (paths that cross lists)."""

    def walk(start) -> Values:
        values = [start.doc if from_subject else start]
        for step in steps:
            out = []
            op = step[0]
            for value in values:
                if op == "member" or op == "key":
                    if isinstance(value, dict) and value.get(step[1]) is not None:
                        out.append(value[step[1]])
                elif op == "each":
                    if isinstance(value, (list, tuple)):
                        out.extend(item for item in value if item is not None)
                elif op == "tag":
                    if isinstance(value, (list, tuple)):
                        out.extend(tag.get("Value") for tag in value
                                   if isinstance(tag, dict) and tag.get("Key") == step[1])
            values = out
            if not values:
                return ()
        return tuple(values)

    return walk


# --------------------------------------------------------------------------- compiling an expression


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "NotEquals": operator.eq,  # negated where the filter is built
    "GreaterThan": operator.gt,
    "GreaterThanOrEqualTo": operator.ge,
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
}


def _all(parts: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda subject: first(subject) and second(subject)
    return lambda subject: all(part(subject) for part in parts)


def _any(parts: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda subject: first(subject) or second(subject)
    return lambda subject: any(part(subject) for part in parts)


_NUMBER_TYPES = (int, float)


def _fused(prop: Property, operator_name: str, value: str) -> Callable[[Any], bool] | None:
    """A one-call predicate for a comparison on a top-level property, tag or metric (the hot path
    of most searches); None where the general form is needed. Called after the filter has been
    checked, so ``value`` fits the property."""
    if prop.source is None or operator_name not in COMPARISONS:
        return None
    where, key = prop.source
    compare = COMPARISONS[operator_name]
    if prop.kind == NUMBER:
        target: Any = float(value)
        if where == "metrics":  # always floats
            check = lambda subject: (v := subject.metrics.get(key)) is not None and compare(v, target)  # noqa: E731
        else:
            def check(subject) -> bool:
                return type(v := subject.doc.get(key)) in _NUMBER_TYPES and compare(v, target)
    elif prop.kind == TIME and where == "doc":
        target = parse_timestamp(value)
        check = lambda subject: type(v := subject.doc.get(key)) is datetime and compare(v, target)  # noqa: E731
    elif prop.kind == TEXT and operator_name in ("Equals", "NotEquals") and (
            not prop.numeric_text or _number(value) is None):
        target = value
        if where == "tags":
            check = lambda subject: subject.tags.get(key) == target  # noqa: E731
        else:
            check = lambda subject: subject.doc.get(key) == target  # noqa: E731
    else:
        return None
    if operator_name == "NotEquals":
        return lambda subject: not check(subject)
    return check


class Compiler:
    """Turns a SearchExpression into a predicate over records, checking it as it goes.

    ``hints`` collects the ``Equals`` filters on single-valued text properties that every match
    must satisfy (those of the top-level ``And``), with their predicates: the search may take its
    candidates from an index on one of them instead of looking at every record, and then skip that
    filter's predicate."""

    def __init__(self, spec: SearchableResource) -> None:
        self.spec = spec
        self.elements = 0
        self.contains = 0
        self.hints: list[tuple[Property, str, Callable[[Any], bool]]] = []

    def compile(self, expression: dict[str, Any]) -> list[Callable[[Any], bool]]:
        """The conditions a record must all meet (the parts of the top-level conjunction)."""
        self.conditions: list[Callable[[Any], bool]] = []
        self.conditions.append(self.expression(expression, top=True))
        return [condition for condition in self.conditions if condition is not None]

    def expression(self, expression: dict[str, Any], top: bool = False) -> Callable[[Any], bool] | None:
        """The predicate of ``expression``; at the top level, a conjunction's parts go to
        ``self.conditions`` instead (and None is returned) so that they can be applied one by one."""
        filters = expression.get("Filters") or []
        nested = expression.get("NestedFilters") or []
        subexpressions = expression.get("SubExpressions") or []
        if not (filters or nested or subexpressions):
            raise validation_exception(
                "A SearchExpression must contain at least one of Filters, NestedFilters or SubExpressions."
            )
        count = len(filters) + len(nested) + len(subexpressions)
        self._count(count)
        conjunctive = (expression.get("Operator") or "And") == "And" or count == 1
        parts = [self.filter(item, None, hint=top and conjunctive) for item in filters]
        parts += [self.nested(item) for item in nested]
        parts += [self.expression(item, top=top and conjunctive) for item in subexpressions]
        if top and conjunctive:
            self.conditions.extend(part for part in parts if part is not None)
            return None
        return _all(parts) if conjunctive else _any(parts)

    def _count(self, n: int) -> None:
        self.elements += n
        if self.elements > MAX_EXPRESSION_ELEMENTS:
            raise validation_exception(
                f"The SearchExpression is too complex: it may contain at most {MAX_EXPRESSION_ELEMENTS} "
                "Filters, NestedFilters and SubExpressions in all, counted through every nesting level."
            )

    def nested(self, nested: dict[str, Any]) -> Callable[[Any], bool]:
        list_name = nested.get("NestedPropertyName") or ""
        holder = resolve_property(self.spec, list_name)
        if holder.element_shape is None or holder.element_shape.type_name != "structure":
            raise validation_exception(
                f'NestedPropertyName "{list_name}" is not a list property of resource type '
                f"{self.spec.resource}; NestedFilters apply to list properties such as InputDataConfig."
            )
        filters = nested.get("Filters") or []
        self._count(len(filters))
        prefix = list_name + "."
        parts = []
        for item in filters:
            name = item.get("Name") or ""
            if not name.startswith(prefix) or len(name) == len(prefix):
                raise validation_exception(
                    f'The filter "{name}" in the NestedFilters of "{list_name}" must name a property of '
                    f'"{list_name}" elements, as "{prefix}<property>".'
                )
            prop = resolve_element_property(holder.element_shape, name, name[len(prefix):], self.spec.resource)
            parts.append(self.filter(item, prop))
        every = _all(parts)
        elements = holder.get
        return lambda subject: any(every(element) for element in elements(subject))

    def filter(self, item: dict[str, Any], prop: Property | None, hint: bool = False) -> Callable[[Any], bool]:
        name = item.get("Name") or ""
        value = item.get("Value")
        operator_name = item.get("Operator") or ("Equals" if value is not None else "Exists")
        prop = prop or resolve_property(self.spec, name)
        get, one = prop.get, prop.one
        if operator_name == "Exists":
            return (lambda subject: one(subject) is not None) if one else (lambda subject: bool(get(subject)))
        if operator_name == "NotExists":
            return (lambda subject: one(subject) is None) if one else (lambda subject: not get(subject))
        if value is None:
            raise validation_exception(f'The filter on "{name}" with operator {operator_name} needs a Value.')
        if operator_name == "Contains":
            self.contains += 1
            if self.contains > CONTAINS_LIMIT:
                raise validation_exception("'CONTAINS' operator usage limit of 1 exceeded.")
        if prop.kind == OBJECT:
            raise validation_exception(
                f'"{name}" is not a single-valued property, so operator {operator_name} does not apply to it; '
                "filter on one of its members, or use Exists or NotExists."
            )
        test = self._test(operator_name, prop, name, value)
        predicate = _fused(prop, operator_name, value) or self._general(operator_name, one, get, test)
        if (hint and one is not None and operator_name == "Equals" and prop.kind == TEXT
                and (not prop.numeric_text or _number(value) is None)):
            self.hints.append((prop, value, predicate))
        return predicate

    @staticmethod
    def _general(operator_name: str, one, get, test) -> Callable[[Any], bool]:
        if one is not None:
            if operator_name == "NotEquals":
                return lambda subject: (v := one(subject)) is None or not test(v)
            return lambda subject: (v := one(subject)) is not None and test(v)
        if operator_name == "NotEquals":
            return lambda subject: not any(map(test, get(subject)))
        return lambda subject: any(map(test, get(subject)))

    def _test(self, operator_name: str, prop: Property, name: str, value: str) -> Callable[[Any], bool]:
        """The test one value of ``prop`` must pass (for NotEquals: the Equals test, negated by the caller)."""
        kind = prop.kind
        if operator_name in ("In", "Contains") and kind != TEXT:
            raise validation_exception(
                f'Operator {operator_name} is only supported for text properties, and "{name}" is a {kind} property.'
            )
        compare = COMPARISONS.get(operator_name)
        if kind == NUMBER:
            target = _number(value)
            if target is None:
                raise validation_exception(
                    f'The value "{value}" of the filter on "{name}" must be an integer or a floating-point '
                    "decimal: it is a numeric property."
                )
            return lambda v: _is_number(v) and compare(v, target)
        if kind == TIME:
            try:
                instant = parse_timestamp(value).timestamp()
            except (ValueError, TypeError, OverflowError):
                raise validation_exception(
                    f'The value "{value}" of the filter on "{name}" must be a timestamp: an ISO 8601 '
                    "date-time (YYYY-mm-ddTHH:MM:SS) or epoch seconds."
                ) from None
            return lambda v: (e := _epoch(v)) is not None and compare(e, instant)
        if kind == BOOL:
            if operator_name not in ("Equals", "NotEquals"):
                raise validation_exception(
                    f'Operator {operator_name} is not supported for the Boolean property "{name}"; '
                    "use Equals or NotEquals."
                )
            if value.lower() not in ("true", "false"):
                raise validation_exception(f'The value "{value}" of the filter on "{name}" must be true or false.')
            target = value.lower() == "true"
            return lambda v: v is target
        # text
        if operator_name == "Contains":
            return lambda v: isinstance(v, str) and value in v
        if operator_name == "In":
            choices = frozenset(part.strip() for part in value.split(","))
            return lambda v: isinstance(v, str) and v in choices
        numeric = _number(value) if prop.numeric_text else None
        if operator_name in RANGE_OPERATORS and numeric is None:
            raise validation_exception(
                f'Operator {operator_name} is not supported for the text property "{name}"'
                + (f' with the non-numeric value "{value}".' if prop.numeric_text else ".")
            )
        if numeric is None:
            return lambda v: v == value
        if operator_name in ("Equals", "NotEquals"):
            # the same text, or the same number written differently ("0.10" and "0.1")
            return lambda v: v == value or (isinstance(v, str) and _number(v) == numeric)
        as_integer = bool(_INTEGER.fullmatch(value.strip()))

        def numeric_text(v) -> bool:
            number = _number(v) if isinstance(v, str) else None
            if number is None:
                return False
            return compare(math.trunc(number) if as_integer else number, numeric)

        return numeric_text


# --------------------------------------------------------------------------- sorting and paging


def _sort_value(value: Any) -> tuple | None:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, float(value))
    if isinstance(value, datetime):
        return (0, value.timestamp())
    if isinstance(value, str):
        number = _number(value)
        return (0, number) if number is not None else (1, value)
    return None


def _sort_key_of(prop: Property, descending: bool) -> Callable[[Subject], Any]:
    """The value to sort a record on (None when it has none)."""
    one = prop.one
    if prop.source is not None and prop.source[0] == "metrics":
        key = prop.source[1]
        return lambda subject: subject.metrics.get(key)
    if prop.source is not None and prop.source[0] == "doc" and prop.kind == NUMBER:
        key = prop.source[1]
        return lambda subject: v if type(v := subject.doc.get(key)) in _NUMBER_TYPES else None
    if prop.source is not None and prop.source[0] == "doc" and prop.kind == TIME:
        key = prop.source[1]
        return lambda subject: v if type(v := subject.doc.get(key)) is datetime else None
    if one is not None and prop.kind == TEXT and not prop.numeric_text:
        return lambda subject: v if type(v := one(subject)) is str else None
    if one is not None and prop.kind == NUMBER:
        return lambda subject: v if _is_number(v := one(subject)) else None
    if one is not None and prop.kind == TIME:
        return lambda subject: _epoch(one(subject))
    if one is not None:
        return lambda subject: _sort_value(one(subject))
    get = prop.get
    pick = max if descending else min

    def multi(subject: Subject) -> Any:
        keys = [key for key in map(_sort_value, get(subject)) if key is not None]
        return pick(keys) if keys else None

    return multi


def sort_subjects(subjects: list[Subject], prop: Property, descending: bool, wanted: int) -> list[Subject]:
    """The first ``wanted`` records in order: by the property, ties by name in the same direction,
    records without a value last (by name)."""
    key_of = _sort_key_of(prop, descending)
    # names are unique, so the subjects themselves are never compared
    keyed = [(key, subject.name, subject) for subject in subjects if (key := key_of(subject)) is not None]
    if wanted < len(keyed) // 8:
        ordered = (heapq.nlargest if descending else heapq.nsmallest)(wanted, keyed)
    else:
        ordered = sorted(keyed, reverse=descending)
    result = [subject for _, _, subject in ordered[:wanted]]
    if len(result) < wanted and len(keyed) < len(subjects):
        missing = sorted((subject for subject in subjects if key_of(subject) is None), key=lambda s: s.name)
        result += missing[: wanted - len(result)]
    return result


def _fingerprint(params: dict[str, Any]) -> str:
    query = {key: params.get(key) for key in ("Resource", "SearchExpression", "SortBy", "SortOrder",
                                               "CrossAccountFilterOption")}
    return hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _encode_token(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "query": fingerprint}).encode()).decode()


def _decode_token(token: str | None, fingerprint: str) -> int:
    if not token:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = decoded["offset"]
        if isinstance(offset, int) and offset >= 0 and decoded.get("query") == fingerprint:
            return offset
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    raise validation_exception("Invalid pagination token given: it does not belong to this search.")


# --------------------------------------------------------------------------- the operation


def unsupported_resource(resource: str) -> AwsError:
    return validation_exception(
        f"Search on {resource} resources is not supported by sagemaker-emulator, which has no {resource} "
        f"resources; supported resource types: {', '.join(RESOURCES)}."
    )


def search(store, params: dict[str, Any]) -> dict[str, Any]:
    """The Search operation on a :class:`~.store.ResourceStore` (no request context needed)."""
    resource = params["Resource"]
    spec = RESOURCES.get(resource)
    if spec is None:
        raise unsupported_resource(resource)
    expression = params.get("SearchExpression")
    compiler = Compiler(spec)
    conditions = compiler.compile(expression) if expression is not None else []
    sort_by = params.get("SortBy") or spec.default_sort
    sort_prop = resolve_property(spec, sort_by)
    if sort_prop.kind == OBJECT:
        raise validation_exception(
            f'Cannot sort by "{sort_by}": it is not a single-valued property of resource type {resource}.'
        )
    descending = (params.get("SortOrder") or "Descending") == "Descending"
    fingerprint = _fingerprint(params)
    offset = _decode_token(params.get("NextToken"), fingerprint)
    limit = params.get("MaxResults") or DEFAULT_MAX_RESULTS

    if params.get("CrossAccountFilterOption") == "CrossAccount":
        candidates: list[Subject] = []  # nothing here is shared from another account
    else:
        corpus = corpus_of(store, spec)
        candidates = corpus.subjects
        satisfied = None
        for prop, value, predicate in compiler.hints:  # the most selective index, if any
            indexed = corpus.index(prop).get(value, [])
            if len(indexed) < len(candidates) or satisfied is None:
                candidates, satisfied = indexed, predicate
        conditions = [condition for condition in conditions if condition is not satisfied]
    matches = list(candidates)
    for condition in conditions:  # one pass per condition: cheaper than one combined predicate
        matches = [subject for subject in matches if condition(subject)]
    page = sort_subjects(matches, sort_prop, descending, offset + limit)[offset:]
    result: dict[str, Any] = {
        "Results": [record_of(spec, subject) for subject in page],
        "TotalHits": {"Value": len(matches), "Relation": "EqualTo"},
    }
    if offset + limit < len(matches):
        result["NextToken"] = _encode_token(offset + limit, fingerprint)
    return result


@operation("sagemaker", "Search")
def search_operation(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return search(ctx.emulator.resources, params)
