"""CSV records (``text/csv``): no header, one record per line, label columns first.

``label_size`` (from the content type) says how many leading columns are the label: SageMaker's
training default is 1 and its inference default is 0. Parsing uses NumPy's C tokenizer.
"""

from __future__ import annotations

import io

import numpy as np

from .errors import DataError


def parse_csv(data, *, label_size: int = 0, feature_dim: int | None = None
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse CSV bytes/str into float32 ``(features, labels)``; labels are None when label_size is 0.

    Labels are ``(n,)`` for ``label_size == 1`` and ``(n, label_size)`` otherwise. Raises
    :class:`DataError` for non-numeric fields, ragged rows or a width that does not match
    ``feature_dim + label_size``.
    """
    text = _text(data)
    if not text.strip():
        return np.zeros((0, feature_dim or 0), np.float32), None
    try:
        table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float32, ndmin=2, comments=None,
                           encoding=None)
    except ValueError as error:
        raise DataError(f"Unable to parse CSV data: {_first_line(error)}") from None
    rows, columns = table.shape
    if feature_dim is not None and columns != feature_dim + label_size:
        raise DataError(
            f"Rows 1-{rows} have different fields than the expected size {feature_dim + label_size} "
            f"(feature_dim {feature_dim} + label_size {label_size}); found {columns} column(s)"
        )
    if columns < label_size:
        raise DataError(f"CSV rows have {columns} column(s), fewer than label_size {label_size}")
    labels = None
    if label_size:
        labels = table[:, 0] if label_size == 1 else table[:, :label_size]
        labels = np.ascontiguousarray(labels)
        table = table[:, label_size:]
    return np.ascontiguousarray(table), labels


def _text(data) -> str:
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"CSV data is not valid UTF-8 ({error.reason} at byte {error.start})") from None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def format_csv(columns: list[np.ndarray]) -> bytes:
    """One line per row: the row's values of every column (vectors flattened), comma-separated."""
    if not columns:
        return b""
    matrix = np.concatenate([np.asarray(c).reshape(len(c), -1) for c in columns], axis=1)
    lines = (",".join(repr(value) for value in row) for row in matrix.tolist())
    return "\n".join(lines).encode("utf-8")
