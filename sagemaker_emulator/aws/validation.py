"""Server-side validation of parsed params against the operation's input shape, worded the way AWS
services word it::

    1 validation error detected: Value null at 'trainingJobName' failed to satisfy constraint:
    Member must not be null

    2 validation errors detected: Value 'ml.x' at 'resourceConfig.instanceType' failed to satisfy
    constraint: Member must satisfy enum value set: [...]; Value '0' at
    'resourceConfig.instanceCount' failed to satisfy constraint: Member must have value greater
    than or equal to 1

Checked from botocore's model metadata: required members, length of strings, blobs, lists and maps
(``min``/``max``), numeric ranges, ``enum`` and ``pattern`` (Java regular expressions, translated;
a pattern Python cannot express is not checked rather than wrongly enforced). Member paths are the
member names with a lower-case first letter, list items ``name.N.member`` (1-based), map values
``name.KEY``. S3 is not schema-validated: it has error codes of its own, left to its handlers.
"""

from __future__ import annotations

import re
from typing import Any

from sagemaker_emulator.aws.errors import AwsError

#: the error code each service answers a validation failure with; ``None``: not validated
ERROR_CODES: dict[str, str | None] = {
    "sagemaker": "ValidationException",
    "logs": "InvalidParameterException",
    "sagemaker-runtime": "ValidationError",
    "sts": "ValidationError",
    "iam": "ValidationError",
    "s3": None,
}


def validate(service: str, operation, params: dict[str, Any]) -> None:
    """Raise the service's validation error if ``params`` break the input shape's constraints."""
    shape = operation.input_shape
    if shape is None:
        return
    code = ERROR_CODES.get(service)
    if code is None:
        if service == "s3":
            _s3_payload(shape, params)
        return
    problems = problems_of(shape, params)
    if problems:
        raise validation_error(code, problems)


def _s3_payload(shape, params: dict[str, Any]) -> None:
    """S3 checks only what its handlers cannot do without: a required XML payload (DeleteObjects'
    ``Delete``, PutBucketTagging's ``Tagging``) that is missing is ``MalformedXML``, as in S3. Its
    labels, required query keys and headers are guaranteed by routing."""
    payload = shape.serialization.get("payload")
    if payload and payload in shape.required_members and params.get(payload) is None:
        if shape.members[payload].type_name == "structure":
            raise AwsError(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our "
                "published schema",
                400,
            )


def validation_error(code: str, problems: list[str]) -> AwsError:
    n = len(problems)
    noun = "error" if n == 1 else "errors"
    return AwsError(code, f"{n} validation {noun} detected: " + "; ".join(problems), 400)


def problems_of(shape, params: dict[str, Any]) -> list[str]:
    """Every constraint ``params`` break, as AWS phrases each one."""
    problems: list[str] = []
    if _plan(shape)[0] == "s":
        _structure(shape, params, "", problems)
    return problems


def path_name(member_name: str) -> str:
    return member_name[:1].lower() + member_name[1:]


# --------------------------------------------------------------------------- the walk
#
# Each shape gets a plan once: what to check on its value and which members can hold anything to
# check, so a request only visits what the model constrains.

_plans: dict[int, tuple[Any, tuple]] = {}


def _plan(shape) -> tuple:
    entry = _plans.get(id(shape))
    if entry is not None and entry[0] is shape:
        return entry[1]
    t = shape.type_name
    if t == "structure":
        if getattr(shape, "is_document_type", False):
            plan: tuple = ("-", None)
        else:
            members = shape.members
            required = tuple((n, path_name(n)) for n in shape.required_members if n in members)
            checked = {
                name: (path_name(name), member)
                for name, member in members.items()
                if member.type_name in ("structure", "list", "map") or _checks(member) is not None
            }
            plan = ("s", required, checked)
    elif t in ("list", "map"):
        plan = (t[0], _checks(shape))
    else:
        plan = ("v", _checks(shape))
    _plans[id(shape)] = (shape, plan)
    return plan


def _checks(shape) -> tuple | None:
    """``(kind, min, max, enum, pattern, regex)`` for a shape with constraints, else ``None``."""
    meta = shape.metadata
    t = shape.type_name
    low = meta.get("min")
    high = meta.get("max")
    if t in ("string", "blob", "list", "map"):
        enum = meta.get("enum") if t == "string" else None
        pattern = meta.get("pattern") if t == "string" else None
        regex = compile_pattern(pattern) if pattern is not None else None
        if low is None and high is None and not enum and regex is None:
            return None
        return ("len", low, high, frozenset(enum) if enum else None, enum, pattern, regex)
    if t in ("integer", "long", "float", "double"):
        if low is None and high is None:
            return None
        return ("num", low, high, None, None, None, None)
    return None


def _structure(shape, value: dict, prefix: str, problems: list[str]) -> None:
    _, required, checked = _plan(shape)
    for name, path in required:
        if value.get(name) is None:
            problems.append(f"Value null at '{prefix}{path}' failed to satisfy "
                            "constraint: Member must not be null")
    for name, item in value.items():
        entry = checked.get(name)
        if entry is None or item is None:
            continue
        _value(entry[1], item, prefix + entry[0], problems)


def _value(shape, value: Any, path: str, problems: list[str]) -> None:
    plan = _plan(shape)
    kind = plan[0]
    if kind == "s":
        if isinstance(value, dict):
            _structure(shape, value, path + ".", problems)
        return
    if kind == "-":
        return
    if plan[1] is not None:
        for text in _failed(plan[1], value):
            problems.append(f"Value {_show(value)} at '{path}' failed to satisfy constraint: {text}")
    if kind == "l" and isinstance(value, list):
        member = shape.member
        for i, item in enumerate(value, 1):
            if item is not None:
                _value(member, item, f"{path}.{i}.member", problems)
    elif kind == "m" and isinstance(value, dict):
        _map(shape, value, path, problems)


def _map(shape, value: dict, path: str, problems: list[str]) -> None:
    key_checks = _checks(shape.key)
    vshape = shape.value
    value_plan = _plan(vshape)
    key_problems: list[str] = []
    value_problems: list[str] = []
    for key, item in value.items():
        if key_checks is not None:
            for text in _failed(key_checks, key):
                if text not in key_problems:
                    key_problems.append(text)
        if item is None:
            continue
        if value_plan[0] in ("s", "l", "m"):
            _value(vshape, item, f"{path}.{key}", problems)
        elif value_plan[1] is not None:
            for text in _failed(value_plan[1], item):
                if text not in value_problems:
                    value_problems.append(text)
    if key_problems or value_problems:
        shown = _show(value)
        if key_problems:
            problems.append(f"Value {shown} at '{path}' failed to satisfy constraint: Map keys must "
                            f"satisfy constraint: [{', '.join(key_problems)}]")
        if value_problems:
            problems.append(f"Value {shown} at '{path}' failed to satisfy constraint: Map value must "
                            f"satisfy constraint: [{', '.join(value_problems)}]")


def _failed(checks: tuple, value: Any) -> list[str]:
    """The constraint texts ``value`` breaks, in AWS's order."""
    kind, low, high, enum_set, enum, pattern, regex = checks
    out: list[str] = []
    if kind == "len":
        try:
            size = len(value)
        except TypeError:
            return out
        if low is not None and size < low:
            out.append(f"Member must have length greater than or equal to {low}")
        if high is not None and size > high:
            out.append(f"Member must have length less than or equal to {high}")
        if isinstance(value, str):
            if enum_set is not None and value not in enum_set:
                out.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
            if regex is not None and regex.fullmatch(value) is None:
                out.append(f"Member must satisfy regular expression pattern: {pattern}")
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return out
        if low is not None and value < low:
            out.append(f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            out.append(f"Member must have value less than or equal to {high}")
    return out


def _show(value: Any) -> str:
    """The value as AWS shows it in a message (Java's rendering of strings, lists and maps)."""
    return f"'{_java_text(value)}'"


def _java_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_java_text(v) for v in value) + "]"
    return str(value)


# --------------------------------------------------------------------------- Java patterns

# POSIX classes (ASCII in Java) as class contents
_POSIX = {
    "ASCII": r"\x00-\x7F",
    "Print": r"\x20-\x7E",
    "Graph": r"\x21-\x7E",
    "Alnum": r"a-zA-Z0-9",
    "Alpha": r"a-zA-Z",
    "Digit": r"0-9",
    "Upper": r"A-Z",
    "Lower": r"a-z",
    "Punct": r"!-/:-@\[-`{-~",
    "Space": r" \t\n\x0B\f\r",
    "Blank": r" \t",
    "XDigit": r"0-9a-fA-F",
    "Cntrl": r"\x00-\x1F\x7F",
}
# Unicode categories Python's re cannot name, over-approximated (never reject a valid value)
_UNICODE = {
    "L": r"\w", "IsAlphabetic": r"\w", "IsLetter": r"\w",
    "M": r"\w", "N": r"\w", "Nd": r"\d", "IsDigit": r"\d",
    "Z": r"\s", "Zs": r"\s", "IsWhite_Space": r"\s",
    "P": r"\W\w", "S": r"\W\w", "C": r"\W\w", "Cc": r"\W\w",
}
_SURROGATE_RANGE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}-"
                              r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_patterns: dict[str, re.Pattern | None] = {}


def compile_pattern(pattern: str) -> re.Pattern | None:
    """The Python regex for a model (Java) ``pattern``, or ``None`` when it cannot be expressed."""
    try:
        return _patterns[pattern]
    except KeyError:
        pass
    try:
        regex = re.compile(_translate(pattern))
    except (re.error, ValueError, OverflowError):
        regex = None
    _patterns[pattern] = regex
    return regex


def _translate(pattern: str) -> str:
    """Java regex -> Python regex, for the constructs the AWS models use."""
    pattern = _SURROGATE_RANGE.sub(r"\\U00010000-\\U0010FFFF", pattern)
    pattern = re.sub(r"\\u([dD][89a-fA-F][0-9a-fA-F]{2})", "", pattern)  # lone surrogates
    out: list[str] = []
    i = 0
    n = len(pattern)
    in_class = False
    after_class_escape = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "pP" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.index("}", i)
                name = pattern[i + 3 : end]
                if nxt == "P":
                    raise ValueError("negated property classes are not supported")
                name = name[2:] if name.startswith("Is") and name[2:] in _POSIX else name
                if name in _POSIX:
                    body = _POSIX[name]
                elif name in _UNICODE:
                    body = _UNICODE[name]
                else:
                    raise ValueError(f"unknown property class {name}")
                out.append(body if in_class else f"[{body}]")
                i = end + 1
                after_class_escape = in_class
                continue
            if nxt == "z":
                out.append(r"\Z")
            elif nxt == "Z":
                out.append(r"(?=\n?\Z)")
            else:
                out.append(ch + nxt)
            after_class_escape = in_class and nxt in "wWdDsS"
            i += 2
            continue
        if in_class:
            if ch == "-" and after_class_escape and i + 1 < n and pattern[i + 1] != "]":
                out.append(r"\-")
            elif ch == "[":
                out.append(r"\[")
            else:
                if ch == "]":
                    in_class = False
                out.append(ch)
            after_class_escape = False
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append(r"\]")
                i += 1
            continue
        if ch == "$" and i + 1 < n and pattern[i + 1] == "{":
            out.append("$")  # Java ignores a quantifier after an anchor
            i = pattern.index("}", i) + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)
