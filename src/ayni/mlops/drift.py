"""Drift: reference statistics saved with each model, and how far a window of production inputs has moved.

Signals, each with its own threshold (``Thresholds``):

* **tabular features** (listing kg, distance, price, forecaster inputs, image-quality statistics such as
  brightness and sharpness): PSI over the reference's decile bins, and the two-sample KS statistic D, whose
  threshold is ``max(ks_statistic, D_crit(ks_pvalue, n, m))`` — significant *and* large enough to matter,
  so a huge window does not flag a negligible shift and a tiny one does not flag noise. PSI is biased upwards on small samples — under no drift it is about
  ``(1/n + 1/m)·χ²(B−1)`` — so its threshold is ``max(psi, (1/n + 1/m)·χ²₁₋α(B−1))``: 0.2 for large
  windows, higher for a window of a few dozen requests;
* **categorical mixes** (the classifier's predicted-class mix, listing materials): PSI over categories;
* **embedding space** (the classifier's backbone features): the distance between the window's mean
  embedding and the reference mean, in units of the reference's RMS spread
  (``‖μ_cur − μ_ref‖ / sqrt(E‖x − μ_ref‖²)``). Same-distribution windows of n samples score ≈ 1/√n, so a
  window is flagged only above ``max(embedding, 3/√n)``; and the **MMD** (maximum mean discrepancy, RBF
  kernel, bandwidth the reference's median pairwise distance) between the window and a reference sample,
  both centred on the reference mean and randomly projected to 32 dimensions, with a **permutation threshold**: the
  ``1 − mmd_alpha`` quantile of the MMD over random re-splits of the pooled embeddings (the statistic's
  own null distribution for these sample sizes). MMD sees changes of shape the mean alone misses.

``DriftReference`` is plain JSON (``drift_reference.json`` inside the model directory, so it travels with
the registered version). ``compare`` returns a ``DriftReport`` whose ``signals`` map one-to-one onto the
``ayni_drift_score{model,signal}`` gauges; ``ayni.mlops._drift_html.render`` draws it as an HTML page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ayni.errors import InvalidInput

REFERENCE_FILE = "drift_reference.json"
_EPS = 1e-4


@dataclass(frozen=True, slots=True)
class Thresholds:
    psi: float = 0.2  # 0.1–0.2 "moderate", > 0.2 "significant" (the usual credit-scoring rule of thumb)
    psi_alpha: float = 0.001  # small windows: PSI must also exceed its own sampling noise at this level
    ks_pvalue: float = 0.001
    ks_statistic: float = 0.1
    category_psi: float = 0.2
    embedding: float = 0.25
    mmd_alpha: float = 0.01
    mmd_permutations: int = 200
    min_samples: int = 30


@dataclass(frozen=True, slots=True)
class FeatureReference:
    edges: list[float]  # inner bin edges (deciles of the reference)
    fractions: list[float]  # reference share of each of len(edges) + 1 bins
    sample: list[float]  # a random subsample, for KS
    mean: float
    std: float
    n: int = 0


@dataclass(frozen=True, slots=True)
class EmbeddingReference:
    mean: list[float]
    rms: float
    n: int
    projection_seed: int = 0  # the random projection (k × d) the sample lives in: ``_projection(d, k, seed)``
    components: int = 0
    sample: list[list[float]] = field(default_factory=list)  # reference rows, centred and projected (m × k)
    bandwidth: float = 0.0  # RBF kernel bandwidth: median pairwise distance of the projected sample


@dataclass(frozen=True, slots=True)
class DriftReference:
    features: dict[str, FeatureReference] = field(default_factory=dict)
    categories: dict[str, dict[str, float]] = field(default_factory=dict)
    embedding: EmbeddingReference | None = None
    n: int = 0
    created_at: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DriftReference:
        raw = json.loads(text)
        emb = raw.get("embedding")
        return cls(
            features={k: FeatureReference(**v) for k, v in raw.get("features", {}).items()},
            categories={k: {c: float(f) for c, f in v.items()} for k, v in raw.get("categories", {}).items()},
            embedding=EmbeddingReference(**emb) if emb else None,
            n=int(raw.get("n", 0)),
            created_at=str(raw.get("created_at", "")),
        )

    def save(self, model_dir: Path) -> Path:
        path = Path(model_dir) / REFERENCE_FILE
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, model_dir: Path) -> DriftReference:
        path = Path(model_dir) / REFERENCE_FILE
        if not path.is_file():
            raise InvalidInput(f"No drift reference in {model_dir}; it is saved when a model is trained.")
        return cls.from_json(path.read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Signal:
    """One drift statistic against its threshold; ``name`` is the gauge's ``signal`` label."""

    name: str
    kind: str  # "psi", "ks", "category_psi", "embedding"
    statistic: float
    threshold: float
    drifted: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DriftReport:
    model: str
    n_current: int
    n_reference: int
    signals: tuple[Signal, ...]
    created_at: str
    plots: dict[str, dict[str, Any]] = field(default_factory=dict)  # what the HTML report draws

    @property
    def drifted(self) -> bool:
        return any(s.drifted for s in self.signals)

    def drifted_signals(self) -> list[str]:
        return [s.name for s in self.signals if s.drifted]

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n_current": self.n_current,
            "n_reference": self.n_reference,
            "drifted": self.drifted,
            "drifted_signals": self.drifted_signals(),
            "created_at": self.created_at,
            "signals": [
                {"name": s.name, "kind": s.kind, "statistic": s.statistic, "threshold": s.threshold,
                 "drifted": s.drifted, **s.detail}
                for s in self.signals
            ],
        }


# --- statistics -----------------------------------------------------------------------------------------


def _finite(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    return arr[np.isfinite(arr)]


def bin_fractions(values: np.ndarray, edges: Sequence[float] | np.ndarray, *, pseudo: float = 0.5) -> np.ndarray:
    """Share of ``values`` in each bin, with ``pseudo`` counts per bin so an empty bin is not infinitely rare."""
    counts = np.bincount(np.searchsorted(np.asarray(edges), values, side="right"), minlength=len(edges) + 1)
    return (counts + pseudo) / (counts.sum() + pseudo * len(counts))


def psi(expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray) -> float:
    """Population stability index between two distributions over the same bins (fractions)."""
    e = np.clip(np.asarray(expected, dtype=np.float64), _EPS, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), _EPS, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def feature_reference(values: Any, *, bins: int = 10, sample_size: int = 500,
                      rng: np.random.Generator | None = None) -> FeatureReference:
    x = _finite(values)
    if x.size == 0:
        raise InvalidInput("A drift reference needs at least one finite value per feature.")
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
    rng = rng or np.random.default_rng(0)
    sample = x if x.size <= sample_size else rng.choice(x, sample_size, replace=False)
    return FeatureReference(edges=edges.tolist(), fractions=bin_fractions(x, edges).tolist(),
                            sample=np.sort(sample).tolist(), mean=float(x.mean()), std=float(x.std()), n=int(x.size))


def ks_threshold(base: float, *, n_current: int, n_reference: int, alpha: float = 0.01) -> float:
    """``base``, raised to the two-sample KS critical value at level ``alpha`` (so score > threshold ⇔ drift)."""
    if n_current <= 0 or n_reference <= 0:
        return base
    c_alpha = np.sqrt(-np.log(alpha / 2) / 2)
    return float(max(base, c_alpha * np.sqrt((n_current + n_reference) / (n_current * n_reference))))


def psi_threshold(base: float, *, n_current: int, n_reference: int, bins: int, alpha: float = 0.01) -> float:
    """``base``, raised to the PSI that pure sampling noise exceeds with probability ``alpha``."""
    if n_current <= 0 or bins < 2:
        return base
    scale = 1.0 / n_current + (1.0 / n_reference if n_reference > 0 else 0.0)
    return float(max(base, scale * stats.chi2.ppf(1 - alpha, bins - 1)))


def category_fractions(values: Sequence[Any]) -> dict[str, float]:
    counts = pd.Series([str(v) for v in values], dtype="object").value_counts()
    total = max(int(counts.sum()), 1)
    return {str(k): int(v) / total for k, v in counts.items()}


def embedding_reference(embeddings: np.ndarray, *, components: int = 32, sample_size: int = 200,
                        random_state: int = 0) -> EmbeddingReference:
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2 or len(emb) < 2:
        raise InvalidInput("Embeddings must be a 2-D array with at least two rows.")
    mean = emb.mean(axis=0)
    rms = float(np.sqrt(np.mean(np.sum((emb - mean) ** 2, axis=1))))
    basis = _projection(emb.shape[1], components, random_state)
    rng = np.random.default_rng(random_state)
    rows = emb if len(emb) <= sample_size else emb[rng.choice(len(emb), sample_size, replace=False)]
    sample = (rows - mean) @ basis.T
    return EmbeddingReference(mean=_rounded(mean), rms=max(rms, 1e-12), n=len(emb),
                              projection_seed=random_state, components=components,
                              sample=[_rounded(r) for r in sample], bandwidth=_median_distance(sample))


def _projection(dim: int, components: int, seed: int) -> np.ndarray:
    """A fixed Gaussian random projection (k × d), rebuilt from its seed: distances kept up to ≈ 1/√k
    (Johnson–Lindenstrauss), and, unlike principal components fitted on the reference sample, no bias for it."""
    return np.random.default_rng(seed).normal(0.0, 1.0 / np.sqrt(components), (components, dim))


def _rounded(values: np.ndarray) -> list[float]:
    return [float(f"{v:.7g}") for v in np.asarray(values, dtype=np.float64)]


def _median_distance(x: np.ndarray) -> float:
    d = np.sqrt(np.maximum(_sq_dist(x, x), 0.0))
    upper = d[np.triu_indices(len(x), k=1)]
    return float(np.median(upper)) if upper.size and np.median(upper) > 0 else 1.0


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T)


def _mmd2(kernel: np.ndarray, first: np.ndarray) -> float:
    """Biased MMD² from the pooled kernel matrix; ``first`` marks the rows of the first sample."""
    a, b = first, ~first
    return float(kernel[np.ix_(a, a)].mean() + kernel[np.ix_(b, b)].mean() - 2 * kernel[np.ix_(a, b)].mean())


def embedding_mmd(reference: EmbeddingReference, embeddings: np.ndarray, *, permutations: int = 200,
                  alpha: float = 0.01, max_rows: int = 400, random_state: int = 0) -> tuple[float, float]:
    """(MMD², its permutation threshold at level ``alpha``) of the window vs the reference sample."""
    if not reference.components or not reference.sample:
        raise InvalidInput("This drift reference has no embedding sample (saved before MMD existed).")
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[1] != len(reference.mean):
        raise InvalidInput(f"Embeddings must have {len(reference.mean)} columns.")
    rng = np.random.default_rng(random_state)
    if len(emb) > max_rows:
        emb = emb[rng.choice(len(emb), max_rows, replace=False)]
    basis = _projection(emb.shape[1], reference.components, reference.projection_seed)
    current = (emb - np.asarray(reference.mean)) @ basis.T
    pooled = np.vstack([np.asarray(reference.sample), current])
    kernel = np.exp(-_sq_dist(pooled, pooled) / (2 * reference.bandwidth**2))
    is_ref = np.arange(len(pooled)) < len(reference.sample)
    observed = _mmd2(kernel, is_ref)
    null = [_mmd2(kernel, rng.permutation(is_ref)) for _ in range(permutations)]
    return observed, float(np.quantile(null, 1 - alpha))


def embedding_shift(reference: EmbeddingReference, embeddings: np.ndarray) -> float:
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[1] != len(reference.mean):
        raise InvalidInput(f"Embeddings must have {len(reference.mean)} columns.")
    return float(np.linalg.norm(emb.mean(axis=0) - np.asarray(reference.mean)) / reference.rms)


def build_reference(*, tabular: pd.DataFrame | None = None, categories: Mapping[str, Sequence[Any]] | None = None,
                    embeddings: np.ndarray | None = None, sample_size: int = 500,
                    random_state: int = 0) -> DriftReference:
    """Reference statistics from the data a model was trained (or validated) on."""
    rng = np.random.default_rng(random_state)
    table = tabular if tabular is not None else pd.DataFrame()
    feats = {str(c): feature_reference(table[c], sample_size=sample_size, rng=rng) for c in table.columns}
    cats = {k: category_fractions(v) for k, v in (categories or {}).items()}
    sizes = [len(tabular)] if tabular is not None else []
    sizes += [len(v) for v in (categories or {}).values()] + ([len(embeddings)] if embeddings is not None else [])
    return DriftReference(features=feats, categories=cats,
                          embedding=embedding_reference(embeddings, random_state=random_state) if embeddings is not None else None,
                          n=max(sizes, default=0), created_at=datetime.now(UTC).isoformat())


# --- comparison -----------------------------------------------------------------------------------------


def _feature_signals(name: str, ref: FeatureReference, values: Any, th: Thresholds) -> tuple[list[Signal], dict]:
    x = _finite(values)
    cur = bin_fractions(x, ref.edges)
    p = psi(ref.fractions, cur)
    limit = psi_threshold(th.psi, n_current=int(x.size), n_reference=ref.n, bins=len(ref.fractions),
                          alpha=th.psi_alpha)
    d = float(stats.ks_2samp(np.asarray(ref.sample), x).statistic) if x.size else 0.0
    d_limit = ks_threshold(th.ks_statistic, n_current=int(x.size), n_reference=len(ref.sample), alpha=th.ks_pvalue)
    detail = {"mean_ref": ref.mean, "mean_cur": float(x.mean()) if x.size else None, "n": int(x.size)}
    signals = [
        Signal(f"{name}.psi", "psi", p, limit, p > limit, detail),
        Signal(f"{name}.ks", "ks", d, d_limit, d > d_limit, detail),
    ]
    plot = {"kind": "bins", "edges": ref.edges, "reference": ref.fractions, "current": cur.tolist()}
    return signals, plot


def _category_signal(name: str, ref: Mapping[str, float], values: Sequence[Any], th: Thresholds,
                     n_reference: int) -> tuple[Signal, dict]:
    cur = category_fractions(values)
    labels = sorted(set(ref) | set(cur))
    e, a = [ref.get(c, 0.0) for c in labels], [cur.get(c, 0.0) for c in labels]
    p = psi(e, a)
    limit = psi_threshold(th.category_psi, n_current=len(values), n_reference=n_reference, bins=len(labels),
                          alpha=th.psi_alpha)
    sig = Signal(f"{name}.mix", "category_psi", p, limit, p > limit, {"n": len(values)})
    return sig, {"kind": "categories", "labels": labels, "reference": e, "current": a}


def compare(reference: DriftReference, *, model: str, tabular: pd.DataFrame | None = None,
            categories: Mapping[str, Sequence[Any]] | None = None, embeddings: np.ndarray | None = None,
            thresholds: Thresholds = Thresholds()) -> DriftReport:
    """Every signal the reference and the window both have; too small a window raises ``InvalidInput``."""
    sizes = ([len(tabular)] if tabular is not None else []) + [len(v) for v in (categories or {}).values()]
    sizes += [len(embeddings)] if embeddings is not None else []
    n = max(sizes, default=0)
    if n < thresholds.min_samples:
        raise InvalidInput(f"The window has {n} samples; drift needs at least {thresholds.min_samples}.")
    signals: list[Signal] = []
    plots: dict[str, dict[str, Any]] = {}
    table = tabular if tabular is not None else pd.DataFrame()
    for col in table.columns:
        if str(col) in reference.features:
            found, plot = _feature_signals(str(col), reference.features[str(col)], table[col], thresholds)
            signals += found
            plots[str(col)] = plot
    for key, values in (categories or {}).items():
        if key in reference.categories:
            sig, plot = _category_signal(key, reference.categories[key], values, thresholds, reference.n)
            signals.append(sig)
            plots[key] = plot
    if embeddings is not None and reference.embedding is not None and len(embeddings):
        shift = embedding_shift(reference.embedding, embeddings)
        limit = float(max(thresholds.embedding, 3.0 / np.sqrt(len(embeddings))))
        signals.append(Signal("embedding.shift", "embedding", shift, limit, bool(shift > limit),
                              {"n": len(embeddings), "null_level": float(1.0 / np.sqrt(len(embeddings)))}))
        if reference.embedding.sample:
            mmd, mmd_limit = embedding_mmd(reference.embedding, embeddings, permutations=thresholds.mmd_permutations,
                                           alpha=thresholds.mmd_alpha)
            signals.append(Signal("embedding.mmd", "mmd", mmd, mmd_limit, bool(mmd > mmd_limit),
                                  {"n": len(embeddings), "permutations": thresholds.mmd_permutations,
                                   "alpha": thresholds.mmd_alpha}))
    return DriftReport(model=model, n_current=n, n_reference=reference.n, signals=tuple(signals),
                       created_at=datetime.now(UTC).isoformat(), plots=plots)


# --- images --------------------------------------------------------------------------------------------


def image_signals(probabilities: np.ndarray, classes: Sequence[str]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The classifier's outputs as drift inputs: a ``confidence`` column and the ``predicted_class`` mix."""
    prob = np.asarray(probabilities, dtype=np.float64)
    pred = [classes[int(i)] for i in prob.argmax(axis=1)]
    return pd.DataFrame({"confidence": prob.max(axis=1)}), {"predicted_class": pred}


def image_quality(images: Sequence[np.ndarray]) -> pd.DataFrame:
    """Model-free statistics of RGB images (H, W, 3; 0–255): what a darker, blurred or rotated photo changes."""
    rows = []
    for img in images:
        arr = np.asarray(img, dtype=np.float64)
        grey = arr[..., :3].mean(axis=2) if arr.ndim == 3 else arr
        gy, gx = np.gradient(grey)
        lap = np.abs(np.diff(grey, 2, axis=0)).mean() + np.abs(np.diff(grey, 2, axis=1)).mean()
        sat = (arr[..., :3].max(axis=2) - arr[..., :3].min(axis=2)).mean() if arr.ndim == 3 else 0.0
        ex, ey = float(np.mean(gx**2)), float(np.mean(gy**2))
        rows.append({"brightness": grey.mean(), "contrast": grey.std(), "sharpness": lap, "saturation": sat,
                     "orientation": np.log((ex + 1e-6) / (ey + 1e-6))})
    return pd.DataFrame(rows)


def drift_study(predict: Callable[[pd.DataFrame], np.ndarray], X: pd.DataFrame, y: np.ndarray, *,
                shift: Callable[[pd.DataFrame], pd.DataFrame],
                metric: Callable[[np.ndarray, np.ndarray], float]) -> dict[str, float]:
    """Seed 003's question: the model's error on clean inputs and on the same inputs drifted by ``shift``."""
    clean, drifted = metric(y, predict(X)), metric(y, predict(shift(X)))
    return {"clean": float(clean), "drifted": float(drifted), "ratio": float(drifted / clean) if clean else np.inf}
