"""Reservoir sampling of the training stream by random keys.

Every row that streams past gets an independent uniform key; the sample is the ``size`` rows with
the smallest keys, which is a uniform sample without replacement of everything seen. Batches are
handled with array operations only: a batch contributes the rows whose key beats the current
cut-off, appended to a buffer of up to ``2 * size`` rows that is compacted with ``np.argpartition``
when full, so the work per row is O(1) amortised and memory stays at ``2 * size`` rows.

Because the sample is defined by keys, it does not depend on how the stream is cut into batches or
files, and per-host reservoirs merge exactly: :meth:`Reservoir.merge` keeps the smallest keys of the
union, which is a uniform sample of all hosts' rows (hosts must draw their keys from different
seeds). Rows keep the order in which they arrived (host by host when merged), so a sample that holds
every row is the data set in its original order.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


class Reservoir:
    """A uniform sample of at most ``size`` (features, label) rows of a stream."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        if size < 1:
            raise ValueError("the sample size must be positive")
        self.size = int(size)
        self.rng = rng
        self.rows_seen = 0
        self._features: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._keys = np.empty(0, np.float64)
        self._positions = np.empty(0, np.int64)
        self._count = 0
        self._cutoff = np.inf  # every key >= cutoff is certainly out (valid once the buffer was compacted)

    def add(self, features: np.ndarray, labels: np.ndarray) -> None:
        features = np.asarray(features)
        labels = np.asarray(labels)
        count = features.shape[0]
        if labels.shape[0] != count:
            raise ValueError("features and labels must have the same number of rows")
        if count == 0:
            return
        keys = self.rng.random(count)
        positions = np.arange(self.rows_seen, self.rows_seen + count, dtype=np.int64)
        self.rows_seen += count
        entering = np.flatnonzero(keys < self._cutoff)
        if entering.size == 0:
            return
        if entering.size < count:
            features, labels = features[entering], labels[entering]
            keys, positions = keys[entering], positions[entering]
        self._append(features, labels, keys, positions)

    def _append(self, features, labels, keys, positions) -> None:
        if self._features is None:
            capacity = 2 * self.size
            self._features = np.empty((capacity, features.shape[1]), features.dtype)
            self._labels = np.empty((capacity,) + labels.shape[1:], labels.dtype)
            self._keys = np.empty(capacity, np.float64)
            self._positions = np.empty(capacity, np.int64)
        elif features.shape[1] != self._features.shape[1]:
            raise ValueError(f"rows have {features.shape[1]} features, earlier rows had {self._features.shape[1]}")
        start = 0
        total = features.shape[0]
        while start < total:
            room = self._features.shape[0] - self._count
            if room == 0:
                self._compact()
                room = self._features.shape[0] - self._count
            take = min(room, total - start)
            window = slice(self._count, self._count + take)
            self._features[window] = features[start:start + take]
            self._labels[window] = labels[start:start + take]
            self._keys[window] = keys[start:start + take]
            self._positions[window] = positions[start:start + take]
            self._count += take
            start += take

    def _compact(self) -> None:
        """Keep the ``size`` smallest keys of the buffer; later keys above the cut-off are skipped."""
        if self._count <= self.size:
            return
        keep = np.argpartition(self._keys[:self._count], self.size - 1)[:self.size]
        keep.sort()  # keeps arrival order within the buffer
        for array in (self._features, self._labels, self._keys, self._positions):
            array[:self.size] = array[keep]
        self._count = self.size
        self._cutoff = float(self._keys[:self.size].max())

    # ---------------------------------------------------------------------------------------

    @property
    def keys(self) -> np.ndarray:
        self._compact()
        return self._keys[:self._count].copy()

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """The sampled (features, labels), in arrival order."""
        self._compact()
        if self._features is None:
            return np.empty((0, 0), np.float32), np.empty(0, np.float32)
        order = np.argsort(self._positions[:self._count], kind="stable")
        return self._features[:self._count][order], self._labels[:self._count][order]

    @classmethod
    def merge(cls, parts: Sequence["Reservoir"], size: int | None = None) -> "Reservoir":
        """One reservoir holding the smallest keys of all ``parts`` (e.g. one per host, in host order)."""
        size = size or max(part.size for part in parts)
        merged = cls(size, np.random.default_rng(0))
        offset = 0
        for part in parts:
            part._compact()
            if part._features is not None and part._count:
                merged._append(part._features[:part._count], part._labels[:part._count],
                               part._keys[:part._count], part._positions[:part._count] + offset)
            offset += part.rows_seen
        merged.rows_seen = offset
        merged._compact()
        return merged
