"""JSON and JSON Lines inference payloads.

Requests (``application/json``)::

    {"instances": [{"features": [1.5, 16.0]},                                  # dense shorthand
                   {"data": {"features": {"values": [1.5, 16.0]}}},            # protobuf-like dense
                   {"data": {"features": {"keys": [0, 3], "shape": [4], "values": [1, 1]}}}]}  # sparse

A bare instance object (``{"features": [...]}``) is accepted as one instance. ``application/jsonlines``
has one instance object per line; blank lines are skipped. Extra keys (``configuration``, ``label``)
are ignored.

Responses: ``{"predictions": [{name: value, ...}, ...]}`` for JSON, one ``{name: value}`` object per
line for JSON Lines (lines joined by ``\\n``). Float arrays become JSON floats (float32 widened to
double, as real endpoints print them); integer arrays become JSON integers.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import numpy as np

from .errors import DataError


def parse_json_request(data: bytes, feature_dim: int) -> np.ndarray:
    document = _loads(data)
    if isinstance(document, dict) and "instances" in document:
        instances = document["instances"]
        if not isinstance(instances, list):
            raise DataError("'instances' must be a JSON array")
    elif isinstance(document, dict):
        instances = [document]
    elif isinstance(document, list):
        instances = document
    else:
        raise DataError("The JSON request must be an object with an 'instances' array")
    return instances_to_matrix(instances, feature_dim)


def parse_jsonlines_request(data: bytes, feature_dim: int) -> np.ndarray:
    text = _decode(data)
    instances = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            instances.append(json.loads(line))
        except ValueError as error:
            raise DataError(f"Line {number} is not valid JSON: {error}") from None
    return instances_to_matrix(instances, feature_dim)


def instances_to_matrix(instances: list, feature_dim: int) -> np.ndarray:
    """Turn instance objects into a dense float32 ``(n, feature_dim)`` matrix."""
    if not instances:
        return np.zeros((0, feature_dim), np.float32)
    try:
        shorthand = [instance["features"] for instance in instances]
    except (KeyError, TypeError):
        shorthand = None
    if shorthand is not None and all(isinstance(row, list) for row in shorthand):
        matrix = _as_matrix(shorthand, feature_dim)
        if matrix is not None:
            return matrix
    out = np.zeros((len(instances), feature_dim), np.float32)
    for row, instance in enumerate(instances):
        _fill_row(out, row, instance, feature_dim)
    return out


def _as_matrix(rows: list, feature_dim: int) -> np.ndarray | None:
    try:
        matrix = np.asarray(rows, dtype=np.float32)
    except (ValueError, TypeError):
        return None  # ragged or non-numeric: let the per-row path name the culprit
    if matrix.ndim != 2 or matrix.shape[1] != feature_dim:
        return None
    return matrix


def _fill_row(out: np.ndarray, row: int, instance: Any, feature_dim: int) -> None:
    if not isinstance(instance, dict):
        raise DataError(f"Instance {row} is not a JSON object")
    features = instance.get("features")
    if features is None and isinstance(instance.get("data"), dict):
        features = instance["data"].get("features")
    if features is None:
        raise DataError(f"Instance {row} has no 'features'")
    if isinstance(features, dict):
        values = features.get("values")
        keys = features.get("keys")
        shape = features.get("shape")
    else:
        values, keys, shape = features, None, None
    values = _numbers(values, row, "values")
    if keys is None:
        if values.size != feature_dim:
            raise DataError(f"Instance {row} has {values.size} features but the model expects {feature_dim}")
        out[row] = values
        return
    keys = _numbers(keys, row, "keys")
    if keys.size != values.size:
        raise DataError(f"Instance {row} has {keys.size} keys but {values.size} values")
    if shape is not None:
        dims = _numbers(shape, row, "shape")
        if int(np.prod(dims)) != feature_dim:
            raise DataError(f"Instance {row} has shape {dims.astype(int).tolist()} but the model expects "
                            f"{feature_dim} features")
    if keys.size:
        if (keys != np.floor(keys)).any() or keys.min() < 0 or keys.max() >= feature_dim:
            raise DataError(f"Instance {row} has keys outside 0..{feature_dim - 1}")
        out[row, keys.astype(np.int64)] = values


def _numbers(value: Any, row: int, name: str) -> np.ndarray:
    if not isinstance(value, list):
        raise DataError(f"Instance {row}: '{name}' must be a list of numbers")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise DataError(f"Instance {row}: '{name}' must be a list of numbers") from None
    if array.ndim != 1:
        raise DataError(f"Instance {row}: '{name}' must be a flat list of numbers")
    return array


def _decode(data) -> str:
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"The request is not valid UTF-8 ({error.reason} at byte {error.start})") from None


def _loads(data) -> Any:
    try:
        return json.loads(_decode(data))
    except ValueError as error:
        raise DataError(f"The request is not valid JSON: {error}") from None


# --------------------------------------------------------------------------------------------
# Responses


def prediction_rows(outputs: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """One dict per row: scalars for ``(n,)`` outputs, lists for ``(n, m)`` outputs."""
    names = list(outputs)
    columns = [np.asarray(outputs[name]).tolist() for name in names]
    return [dict(zip(names, values)) for values in zip(*columns)]


def format_json(outputs: Mapping[str, np.ndarray]) -> bytes:
    return json.dumps({"predictions": prediction_rows(outputs)}).encode("utf-8")


def format_jsonlines(outputs: Mapping[str, np.ndarray]) -> bytes:
    dumps = json.dumps
    return "\n".join(dumps(row) for row in prediction_rows(outputs)).encode("utf-8")
