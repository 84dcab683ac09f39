"""Exact k-nearest-neighbour search on the BLAS, bounded in memory, with provably exact results.

SageMaker builds a FAISS index; here every ``index_type`` is served by this exact search (IVF and PQ
approximations are not reproduced). Three metrics, each reduced to a *score* where smaller is better:

* ``L2``: squared Euclidean distance ``|q - s|^2`` (reported as the Euclidean distance);
* ``INNER_PRODUCT``: ``-q.s`` (reported as the similarity ``q.s``, best first);
* ``COSINE``: ``-q.s`` on unit-normalised rows (reported as the cosine similarity, best first; a zero
  row stays zero, so its similarity to anything is 0).

A query block is answered in three steps; the samples are never compared with it all at once.

1. **Candidates from one float32 GEMM pass.** Samples and queries are mapped to *search vectors*
   and the samples kept as one float32 matrix ``B`` (for L2 ``[-2 y | |y|^2]``, so a GEMM with
   ``[x | 1]`` gives ``|y|^2 - 2 x.y``; ``|x|^2`` is added afterwards). Query blocks of
   ``query_block`` rows meet sample blocks of ``sample_block`` rows; each query keeps a running list
   of its ``m`` best candidates and the worst of them, ``tau``. The first block fills the lists with
   ``np.argpartition``; later blocks only compare the GEMM result with ``tau`` and merge the few
   entries that beat it (``np.flatnonzero``), so selection costs far less than the GEMM. Scratch
   memory is ``query_block x sample_block``.
2. **Exact rescoring.** Candidates are rescored in float64 on the original rows
   (``sum((q - s)^2)`` or the dot product) and ordered by (score, sample index), so equal scores go
   to the smaller index, like scikit-learn's brute force.
3. **Certification.** Floating-point summation of ``n`` products errs by at most
   ``gamma_n = n u / (1 - n u)`` times the sum of their magnitudes (``u = 2^-24``), which bounds the
   error ``E`` of every GEMM value of a query. From the largest kept value, a lower bound on the
   exact score of every sample left out follows; when the k-th exact score is below it, the answer
   is exact. Otherwise the query is searched again with four times as many candidates (up to all
   samples, which is exhaustive).

Search vectors come in two kinds:

* **plain**: the rows themselves. GEMM values approximate the scores within ``E``, and when the
  first ``k`` gaps of a query's sorted values all exceed ``2E`` its top-k set and order are already
  certain (step 2 is skipped when no scores are asked for).
* **principal axes** (chosen when few axes hold most of the data's energy, e.g. MNIST: 259 of 784
  axes hold 98% of the variance): with an orthonormal eigenbasis ``V`` of the samples'
  (centred for L2) second-moment matrix, a row ``x = V^T (q - mu)`` is split into its ``r`` leading
  coordinates ``x_H`` and the norm ``t`` of the rest; the search vector is ``(x_H, t)``. Since
  ``|x_T - y_T| >= |t_x - t_y|`` and ``x_T.y_T <= t_x t_y``, the GEMM over ``r + 1`` coordinates
  gives a *lower bound* of every score (a third of the work for MNIST), tight when the remainder is
  small; steps 2 and 3 are unchanged, with the bound widened by the rounding of the search vectors
  (float32 coordinates, and the float64 error of ``t``, a few 1e-6 of the row norms).

Reported scores are always the float64 values of the chosen neighbours.
"""

from __future__ import annotations

import numpy as np

METRICS = ("L2", "INNER_PRODUCT", "COSINE")
UNIT_ROUNDOFF = 2.0 ** -24
DEFAULT_QUERY_BLOCK = 512
DEFAULT_SAMPLE_BLOCK = 8192
DEFAULT_FIRST_BLOCK = 2048
EXACT_CHUNK_ELEMENTS = 1 << 21  # float64 scratch of the exact rescoring (16 MiB)
HEAD_ENERGY = 0.98  # share of the energy the leading axes must hold
MAX_HEAD_FRACTION = 0.6  # use principal axes only when they cut the GEMM to at most this share
MIN_AXES_DIM = 64  # ... and only for rows of at least this many features
MAX_AXES_DIM = 2048  # (the eigendecomposition is cubic in the dimension)
ROW_BLOCK_ELEMENTS = 1 << 22  # float64 scratch when preparing rows (32 MiB)
BASIS_ROWS = 20_000  # rows used to estimate the second-moment matrix (any basis is exact)
SLACK = 1.25  # safety factor on every rounding bound
RELATIVE_SLACK = 1e-10  # float64 residue of the basis (orthonormal to ~1e-15) and of the head coordinates
DOUBLE_ROUNDOFF = 2.0 ** -53


def _row_blocks(X: np.ndarray):
    step = max(1, ROW_BLOCK_ELEMENTS // max(1, X.shape[1]))
    for start in range(0, X.shape[0], step):
        yield start, min(start + step, X.shape[0])


def normalize_rows(X: np.ndarray) -> np.ndarray:
    """Unit-length float32 rows (norms taken in float64); zero rows stay zero."""
    X = np.asarray(X)
    out = np.empty(X.shape, np.float32)
    for start, stop in _row_blocks(X):
        block = X[start:stop].astype(np.float64)
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))
        norms[norms == 0] = 1.0
        out[start:stop] = block / norms[:, None]
    return out


def _sq_norms(X: np.ndarray) -> np.ndarray:
    """float64 squared row norms, in row blocks."""
    out = np.empty(X.shape[0], np.float64)
    for start, stop in _row_blocks(X):
        block = X[start:stop].astype(np.float64)
        out[start:stop] = np.einsum("ij,ij->i", block, block)
    return out


def _gamma(terms: int) -> float:
    product = terms * UNIT_ROUNDOFF
    return product / (1.0 - product)


def _row_norms(X: np.ndarray) -> np.ndarray:
    return np.sqrt(_sq_norms(X))


class PrincipalAxes:
    """The head/tail map of rows to ``(x_H, t)`` (see the module docstring)."""

    def __init__(self, mean: np.ndarray, head: np.ndarray) -> None:
        self.mean = mean  # (d,) float64 (zeros for inner products)
        self.head = head  # (d, r) float64, orthonormal columns

    @classmethod
    def fit(cls, points: np.ndarray, centered: bool) -> "PrincipalAxes | None":
        count, dim = points.shape
        if not MIN_AXES_DIM <= dim <= MAX_AXES_DIM or count < 2 * MIN_AXES_DIM:
            return None
        rows = points[::-(-count // BASIS_ROWS)]  # an evenly spread subset; any basis gives exact results
        mean = np.zeros(dim)
        if centered:
            for start, stop in _row_blocks(rows):
                mean += rows[start:stop].sum(axis=0, dtype=np.float64)
            mean /= rows.shape[0]
        moment = np.zeros((dim, dim))
        for start, stop in _row_blocks(rows):
            block = rows[start:stop].astype(np.float64) - mean
            moment += block.T @ block
        values, vectors = np.linalg.eigh(moment)
        order = np.argsort(values)[::-1]
        values, vectors = np.maximum(values[order], 0.0), vectors[:, order]
        total = values.sum()
        if total <= 0:
            return None
        head_dim = min(dim, int(np.searchsorted(np.cumsum(values) / total, HEAD_ENERGY) + 1))
        return cls(mean, np.ascontiguousarray(vectors[:, :head_dim]))

    @property
    def head_dim(self) -> int:
        return int(self.head.shape[1])

    @property
    def tail_error(self) -> float:
        """Relative bound on the float64 error of ``t``: computed as ``sqrt(|x|^2 - |x_H|^2)``, it errs
        by at most ``sqrt(eps) |x|`` when the two squared norms err by ``eps |x|^2``, with
        ``eps <= 4 d (1 + sqrt(r))`` float64 roundoffs (the norm sum and the head projection)."""
        dim, head = self.head.shape
        return float(np.sqrt(4.0 * dim * (1.0 + np.sqrt(head)) * DOUBLE_ROUNDOFF))

    def transform(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 search vectors ``(x_H, t)`` and the float64 norms ``|x| = |q - mu|``."""
        X = np.asarray(X)
        out = np.empty((X.shape[0], self.head_dim + 1), np.float32)
        norms = np.empty(X.shape[0], np.float64)
        for start, stop in _row_blocks(X):
            centered = X[start:stop].astype(np.float64) - self.mean
            total = np.einsum("ij,ij->i", centered, centered)
            head = centered @ self.head
            out[start:stop, :-1] = head
            out[start:stop, -1] = np.sqrt(np.maximum(total - np.einsum("ij,ij->i", head, head), 0.0))
            norms[start:stop] = np.sqrt(total)
        return out, norms


class ExactIndex:
    """Samples prepared for exact search under one metric.

    ``search(queries, k)`` returns ``(indices, scores)`` (``(n, k)`` each, best first), with scores
    as defined in the module docstring (smaller is better); :meth:`public_distances` turns them into
    what the endpoint reports. ``axes``: None chooses principal axes when they pay, False never
    uses them, True uses them whenever the data allows.
    """

    def __init__(self, samples: np.ndarray, metric: str = "L2", *, margin: int | None = None,
                 query_block: int = DEFAULT_QUERY_BLOCK, sample_block: int = DEFAULT_SAMPLE_BLOCK,
                 first_block: int = DEFAULT_FIRST_BLOCK, axes: bool | None = None) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
        samples = np.asarray(samples)
        if samples.ndim != 2 or samples.shape[0] == 0:
            raise ValueError("the index needs a non-empty 2-D sample matrix")
        self.metric = metric
        self.margin = margin
        self.query_block = max(1, int(query_block))
        self.sample_block = max(1, int(sample_block))
        self.first_block = max(1, int(first_block))
        points = normalize_rows(samples) if metric == "COSINE" else np.ascontiguousarray(samples, dtype=np.float32)
        self.points = points
        self.axes: PrincipalAxes | None = None
        if axes is not False:
            fitted = PrincipalAxes.fit(points, centered=metric == "L2")
            if fitted is not None and (axes or fitted.head_dim + 1 <= MAX_HEAD_FRACTION * points.shape[1]):
                self.axes = fitted  # a third of the GEMM work for MNIST
        if self.axes is not None:
            vectors, norms = self.axes.transform(points)
        else:
            vectors, norms = points, _row_norms(points)
        self._max_norm = float(norms.max()) * (1.0 + RELATIVE_SLACK)  # of the rows the rounding bound uses
        count, dim = vectors.shape
        self._vector_dim = dim
        if metric == "L2":
            gemm = np.empty((count, dim + 1), np.float32)
            np.multiply(vectors, -2.0, out=gemm[:, :dim])
            gemm[:, dim] = _sq_norms(vectors)
            self._max_sq_norm_f32 = float(gemm[:, dim].max())
        else:
            gemm = np.negative(vectors)
        self._max_vector_norm = float(_row_norms(vectors).max())
        self._gemm = gemm

    # ---------------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return int(self.points.shape[0])

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    @property
    def search_dim(self) -> int:
        """Coordinates per row in the GEMM pass (``dim``, or ``r + 1`` with principal axes)."""
        return int(self._vector_dim)

    def prepare_queries(self, queries: np.ndarray) -> np.ndarray:
        """Float32 query rows as the index compares them (unit length for COSINE)."""
        queries = np.asarray(queries)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must be (n, {self.dim}), got {queries.shape}")
        if self.metric == "COSINE":
            return normalize_rows(queries)
        return np.ascontiguousarray(queries, dtype=np.float32)

    def search(self, queries: np.ndarray, k: int, *, return_scores: bool = True
               ) -> tuple[np.ndarray, np.ndarray | None]:
        """The exact ``k`` best samples of each query: ``(indices int64, float64 scores)``, best first.

        With ``return_scores=False`` the scores are None (and not computed where the order is
        already certain).
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        if k > self.size:
            raise ValueError(f"k ({k}) exceeds the number of indexed samples ({self.size})")
        Q = self.prepare_queries(queries)
        count = Q.shape[0]
        indices = np.empty((count, k), np.int64)
        scores = np.empty((count, k), np.float64) if return_scores else None
        for start in range(0, count, self.query_block):
            stop = min(start + self.query_block, count)
            block_indices, block_scores = self._search_block(Q[start:stop], k, return_scores)
            indices[start:stop] = block_indices
            if scores is not None:
                scores[start:stop] = block_scores
        return indices, scores

    def public_distances(self, scores: np.ndarray) -> np.ndarray:
        """Scores as the endpoint reports them: Euclidean distance (L2) or similarity (IP, COSINE)."""
        if self.metric == "L2":
            return np.sqrt(np.maximum(scores, 0.0))
        return -scores

    # ---------------------------------------------------------------------------------------
    # one query block

    def _search_block(self, Q: np.ndarray, k: int, return_scores: bool) -> tuple[np.ndarray, np.ndarray]:
        if self.axes is not None:
            Z, row_norms = self.axes.transform(Q)
        else:
            Z, row_norms = Q, _row_norms(Q)
        z_sq_norms = _sq_norms(Z)
        bound = self._gemm_error_bound(np.sqrt(z_sq_norms))
        slack = self._rounding_slack(row_norms)
        default_margin = max(8, k // 2) if self.axes is None else max(16, k)
        m = min(self.size, k + (self.margin if self.margin is not None else default_margin))

        indices = np.empty((len(Q), k), np.int64)
        scores = np.empty((len(Q), k), np.float64)
        pending = np.arange(len(Q))
        first_round = True
        while pending.size:
            if m >= self.size and not first_round:
                indices[pending], scores[pending] = self._exhaustive(Q[pending], k)
                break
            cand_idx, cand_val = self._float32_candidates(Z[pending], m)
            order = np.lexsort((cand_idx, cand_val), axis=-1)
            cand_idx = np.take_along_axis(cand_idx, order, 1)
            cand_val = np.take_along_axis(cand_val, order, 1).astype(np.float64)
            if self.metric == "L2":  # the GEMM leaves out |z|^2
                cand_val += z_sq_norms[pending, None]
            rescore = np.ones(pending.size, bool)
            if first_round and self.axes is None and (m > k or m >= self.size):
                # plain vectors: where every gap among the first k + 1 values (all of them when every
                # sample is a candidate) exceeds twice the error, the GEMM order is the exact order
                upto = min(k + 1, m)
                gaps = np.diff(cand_val[:, :upto], axis=1)
                certain = (gaps > 2.0 * bound[pending, None]).all(axis=1) if upto > 1 else np.ones(pending.size, bool)
                sure = pending[certain]
                indices[sure] = cand_idx[certain, :k]
                if return_scores and sure.size:
                    scores[sure] = self._exact_scores(Q[sure], indices[sure])
                rescore = ~certain
            rows = pending[rescore]
            if rows.size == 0:
                break
            candidates = cand_idx[rescore]
            exact = self._exact_scores(Q[rows], candidates)
            reorder = np.lexsort((candidates, exact), axis=-1)
            exact = np.take_along_axis(exact, reorder, 1)
            indices[rows] = np.take_along_axis(candidates, reorder, 1)[:, :k]
            scores[rows] = exact[:, :k]
            if m >= self.size:
                break  # every sample was a candidate
            floor = self._excluded_floor(cand_val[rescore, m - 1], bound[rows], slack[rows])
            pending = rows[~(exact[:, k - 1] < floor)]
            m = min(self.size, 4 * m)
            first_round = False
        return indices, scores

    def _excluded_floor(self, largest_kept: np.ndarray, bound: np.ndarray, slack: np.ndarray) -> np.ndarray:
        """A lower bound on the exact score of every sample that was not a candidate."""
        floor = largest_kept - bound
        if self.axes is None:
            return floor
        if self.metric == "L2":  # a lower bound of |x_f - y_f| minus the rounding of x and y
            distance = np.sqrt(np.maximum(floor, 0.0)) - slack
            return np.where(distance > 0, distance * distance, -np.inf)
        return floor - slack

    def _gemm_error_bound(self, z_norms: np.ndarray) -> np.ndarray:
        """Per query, a bound on |GEMM value - exact value on the float32 search vectors|."""
        R = self._max_vector_norm
        if self.metric == "L2":
            # dim+1 terms: |sum| <= 2 |z| |y| + fl(|y|^2); plus the float32 rounding of |y|^2
            magnitude = 2.0 * z_norms * R + self._max_sq_norm_f32
            bound = _gamma(self._vector_dim + 1) * magnitude + UNIT_ROUNDOFF * self._max_sq_norm_f32
        else:
            bound = _gamma(self._vector_dim) * z_norms * R
        return bound * SLACK + 1e-300

    def _rounding_slack(self, row_norms: np.ndarray) -> np.ndarray:
        """How far rounding the search vectors to float32 can move a score (principal axes only).

        L2: the distance moves by at most ``u (|x| + |y|)``; inner products by ``2 u |x| |y|``; ``u``
        covers the float32 rounding, the float64 residue and the error of the tail norms.
        """
        if self.axes is None:
            return np.zeros_like(row_norms)
        unit = (UNIT_ROUNDOFF + RELATIVE_SLACK + self.axes.tail_error) * SLACK
        if self.metric == "L2":
            return unit * (row_norms + self._max_norm)
        return 2.0 * unit * row_norms * self._max_norm

    def _float32_candidates(self, Z: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Each query's ``m`` smallest GEMM values (unordered) and their sample indices.

        The GEMM runs samples x queries (``B_block @ Z^T``, the faster layout here); a block's
        entries that beat their query's ``tau`` are found with one ``np.flatnonzero`` over the mask.
        """
        n_queries, total = Z.shape[0], self.size
        if self.metric == "L2":
            ZT = np.empty((Z.shape[1] + 1, n_queries), np.float32)
            ZT[:-1] = Z.T
            ZT[-1] = 1.0
        else:
            ZT = np.ascontiguousarray(Z.T)
        first = min(total, max(m, self.first_block))
        block = ZT.T @ self._gemm[:first].T  # (n_queries, first): rows are contiguous for argpartition
        if first == m:
            best_idx = np.broadcast_to(np.arange(m), (n_queries, m)).copy()
            best_val = block
        else:
            part = np.argpartition(block, m - 1, axis=1)[:, :m]
            best_val = np.take_along_axis(block, part, 1)
            best_idx = part.astype(np.int64)
        del block
        tau = best_val.max(axis=1)
        for start in range(first, total, self.sample_block):
            stop = min(start + self.sample_block, total)
            out = self._gemm[start:stop] @ ZT  # (span, n_queries)
            hits = np.flatnonzero(out < tau)
            if hits.size == 0:
                continue
            sample, query = np.divmod(hits, n_queries)
            order = np.argsort(query, kind="stable")
            _merge(best_val, best_idx, tau, query[order], sample[order] + start, out.ravel()[hits[order]], m)
        return best_idx, best_val

    def _exact_scores(self, Q: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Float64 scores of each query against its candidate samples (``(r, c)``)."""
        rows, width = candidates.shape
        out = np.empty((rows, width), np.float64)
        if rows == 0:
            return out
        step = max(1, EXACT_CHUNK_ELEMENTS // max(1, width * self.dim))
        for start in range(0, rows, step):
            stop = min(start + step, rows)
            gathered = self.points[candidates[start:stop]].astype(np.float64)  # (r, c, d)
            query = Q[start:stop].astype(np.float64)[:, :, None]
            if self.metric == "L2":
                gathered -= query[:, None, :, 0]
                out[start:stop] = np.einsum("rcd,rcd->rc", gathered, gathered)
            else:
                out[start:stop] = -np.matmul(gathered, query)[:, :, 0]
        return out


    def _exhaustive(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact float64 scores against every sample, in sample blocks (for what bounds cannot settle)."""
        rows = Q.shape[0]
        best_idx = np.empty((rows, 0), np.int64)
        best_val = np.empty((rows, 0), np.float64)
        block = max(k, min(self.sample_block, max(1, EXACT_CHUNK_ELEMENTS // max(1, self.dim))))
        for start in range(0, self.size, block):
            stop = min(start + block, self.size)
            idx = np.ascontiguousarray(np.broadcast_to(np.arange(start, stop), (rows, stop - start)))
            val = self._exact_scores(Q, idx)
            all_idx = np.concatenate([best_idx, idx], axis=1)
            all_val = np.concatenate([best_val, val], axis=1)
            order = np.lexsort((all_idx, all_val), axis=-1)[:, :k]
            best_idx = np.take_along_axis(all_idx, order, 1)
            best_val = np.take_along_axis(all_val, order, 1)
        return best_idx, best_val


def _merge(best_val: np.ndarray, best_idx: np.ndarray, tau: np.ndarray, rows: np.ndarray, cols: np.ndarray,
           values: np.ndarray, m: int) -> None:
    """Fold new (row, sample, value) entries into each row's ``m`` best, in place.

    ``rows`` is sorted. Affected rows get a padded ``m + width`` matrix of their current best and
    new entries; ``np.argpartition`` keeps the ``m`` smallest.
    """
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    touched = rows[starts]
    counts = np.diff(np.r_[starts, rows.size])
    width = int(counts.max())
    slot = np.arange(rows.size) - np.repeat(starts, counts)
    which = np.repeat(np.arange(touched.size), counts)
    merged_val = np.full((touched.size, m + width), np.inf, np.float32)
    merged_idx = np.full((touched.size, m + width), -1, np.int64)
    merged_val[:, :m] = best_val[touched]
    merged_idx[:, :m] = best_idx[touched]
    merged_val[which, m + slot] = values
    merged_idx[which, m + slot] = cols
    keep = np.argpartition(merged_val, m - 1, axis=1)[:, :m]
    kept_val = np.take_along_axis(merged_val, keep, 1)
    best_val[touched] = kept_val
    best_idx[touched] = np.take_along_axis(merged_idx, keep, 1)
    tau[touched] = kept_val.max(axis=1)
