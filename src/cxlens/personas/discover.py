"""Persona discovery: k-means over standardised behaviour, k chosen by silhouette.

Rule (docs/personas.md): features of the configured groups; NaN -> the column median;
skewed counts/amounts -> log1p; every column standardised (z-score). For k = 2..10,
k-means (k-means++, ``n_init`` restarts, fixed seed) is fitted on a sample of at most
``fit_sample`` persons and scored by the silhouette on a sample of ``score_sample``;
the k with the best silhouette among those whose clusters are all at least
``min_share`` of the sample wins (any k if none is). The final model is fitted on everyone with that k,
starting from the sample's centroids;
personas smaller than ``min_share`` of the persons are dissolved into their nearest
neighbour, and persons unusually far from their centroid (squared distance above the
cluster's median + ``outlier_mads`` median absolute deviations, and above the cluster's
97.5th percentile) stay unassigned (-1).
The model (column list, medians, means, scales, centroids, outlier thresholds) is
enough to assign new persons without clustering again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from cxlens.errors import ValidationError
from cxlens.personas.features import Features


@dataclass(frozen=True, slots=True)
class DiscoverSpec:
    seed: int = 0
    k_min: int = 2
    k_max: int = 10
    min_share: float = 0.02
    outlier_mads: float = 10.0
    fit_sample: int = 20_000
    score_sample: int = 4_000
    n_init: int = 3


@dataclass(frozen=True, slots=True)
class Model:
    columns: tuple[str, ...]
    groups: tuple[str, ...]
    fill: np.ndarray
    log: np.ndarray  # bool
    mean: np.ndarray
    scale: np.ndarray
    centroids: np.ndarray
    threshold: np.ndarray  # squared distance beyond which a person is an outlier, per persona


@dataclass(frozen=True, slots=True)
class Discovery:
    model: Model
    labels: np.ndarray  # persona index per person, -1 = unassigned
    k: int
    silhouettes: dict[int, float]


def _transform(x: np.ndarray, fill: np.ndarray, log: np.ndarray) -> np.ndarray:
    x = np.where(np.isnan(x), fill[None, :].astype(x.dtype), x)
    x[:, log] = np.log1p(np.maximum(x[:, log], 0.0))
    return x


def prepare(f: Features, groups: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...], np.ndarray, np.ndarray,
                                                            np.ndarray, np.ndarray]:
    """The clustering matrix: selected columns, filled, log1p'ed and standardised."""
    nan = np.isnan(f.matrix)
    sel = f.select(groups) & ~np.all(nan, axis=0)
    x = f.matrix[:, sel].astype(np.float32)
    gaps = nan[:, sel].any(axis=0)  # the median only where it is needed: it sorts the column
    fill = np.zeros(x.shape[1], np.float32)
    if len(x) and gaps.any():
        fill[gaps] = np.nan_to_num(np.nanmedian(x[:, gaps], axis=0))
    log = f.skewed[sel]
    z = _transform(x, fill, log)
    mean, scale = z.mean(axis=0, dtype=np.float64), z.std(axis=0, dtype=np.float64)
    scale = np.where(scale > 1e-9, scale, 1.0)
    cols = tuple(c for c, s in zip(f.columns, sel, strict=True) if s)
    z -= mean.astype(np.float32)
    z /= scale.astype(np.float32)
    return z, cols, fill, log, mean, scale


def _sq_dist(z: np.ndarray, c: np.ndarray) -> np.ndarray:
    d: np.ndarray = np.maximum((z * z).sum(1)[:, None] - 2 * z @ c.T + (c * c).sum(1)[None, :], 0.0)
    return d


def _thresholds(d: np.ndarray, mads: float, keep: float = 0.975) -> float:
    """Median + ``mads`` MADs, but never below the ``keep`` quantile: where most members
    sit on one point (one-hot data, MAD 0) every other member would otherwise be an outlier."""
    if not len(d):
        return 0.0
    med = float(np.median(d))
    mad = float(np.median(np.abs(d - med)))
    return max(med + mads * max(mad, 1e-9), float(np.quantile(d, keep)))


def cluster(z: np.ndarray, spec: DiscoverSpec) -> tuple[int, dict[int, float], np.ndarray]:
    """(chosen k, silhouette per k, centroids before size filtering)."""
    n = len(z)
    if n < 2 * spec.k_min:
        raise ValidationError(f"{n} persons are too few to discover personas; simulate or import more events")
    rng = np.random.default_rng(spec.seed)
    fit_idx = rng.choice(n, min(n, spec.fit_sample), replace=False)
    score_idx = rng.choice(n, min(n, spec.score_sample), replace=False)
    scores: dict[int, float] = {}
    best: tuple[float, int, np.ndarray] | None = None
    fallback: tuple[float, int, np.ndarray] | None = None
    # one thread: the data are small per fit, and on a busy 2-core box OpenMP's spinning
    # threads cost 30x the CPU time of the fit itself (docs/personas.md, measured)
    with threadpool_limits(1):
        for k in range(spec.k_min, min(spec.k_max, n - 1) + 1):
            km = KMeans(n_clusters=k, n_init=spec.n_init, random_state=spec.seed).fit(z[fit_idx])
            lab = km.predict(z[score_idx])
            if len(np.unique(lab)) < 2:
                continue
            s = float(silhouette_score(z[score_idx], lab))
            scores[k] = round(s, 4)
            # a k whose smallest cluster is below the minimum persona size would be
            # dissolved afterwards: it competes only if no k keeps every cluster
            big_enough = np.bincount(km.labels_, minlength=k).min() >= spec.min_share * len(fit_idx)
            if big_enough and (best is None or s > best[0]):
                best = (s, k, km.cluster_centers_)
            if fallback is None or s > fallback[0]:
                fallback = (s, k, km.cluster_centers_)
        best = best or fallback
        if best is None:
            raise ValidationError("all persons behave alike: no persona structure found")
        _, k, start = best
        # everyone, starting from the sample's centroids: Lloyd steps until it settles
        final = KMeans(n_clusters=k, init=start, n_init=1, random_state=spec.seed).fit(z)
    return k, scores, final.cluster_centers_


def discover(f: Features, groups: tuple[str, ...], spec: DiscoverSpec) -> Discovery:
    z, cols, fill, log, mean, scale = prepare(f, groups)
    _, scores, centroids = cluster(z, spec)
    # dissolve personas below the minimum size into their nearest neighbours
    while True:
        lab = _sq_dist(z, centroids).argmin(1)
        sizes = np.bincount(lab, minlength=len(centroids))
        small = sizes < spec.min_share * len(z)
        if not small.any() or small.all():
            break
        centroids = centroids[~small]
        centroids = np.array([z[_sq_dist(z, centroids).argmin(1) == j].mean(0) for j in range(len(centroids))])
    # order personas by size (largest first), so persona 0 is the biggest group
    order = np.argsort(-np.bincount(lab, minlength=len(centroids)), kind="stable")
    centroids = centroids[order]
    d = _sq_dist(z, centroids)
    lab = d.argmin(1)
    own = d[np.arange(len(z)), lab]
    thr = np.array([_thresholds(own[lab == j], spec.outlier_mads) for j in range(len(centroids))])
    labels = np.where(own > thr[lab], -1, lab)
    model = Model(cols, tuple(g for g, c in zip(f.groups, f.columns, strict=True) if c in cols),
                  fill, log, mean, scale, centroids, thr)
    return Discovery(model, labels, len(centroids), scores)


def assign(f: Features, model: Model) -> np.ndarray:
    """Persona index per person of ``f`` under a stored model (-1 = outlier)."""
    idx = {c: i for i, c in enumerate(f.columns)}
    x = np.column_stack([f.matrix[:, idx[c]] if c in idx else np.full(len(f.persons), np.nan)
                         for c in model.columns]) if len(model.columns) else np.zeros((len(f.persons), 0))
    z = ((_transform(x.astype(np.float32), model.fill, model.log) - model.mean) / model.scale).astype(np.float32)
    d = _sq_dist(z, model.centroids)
    lab = d.argmin(1)
    own = d[np.arange(len(z)), lab]
    return np.where(own > model.threshold[lab], -1, lab)
