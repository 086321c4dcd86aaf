"""What the platform has learnt from past matches: counts that become ranker features.

Every count comes from outcomes *before* the moment a feature is computed (the caller adds outcomes
in time order), so training rows never see their own future. The collaborative signal is a low-rank
factorisation (truncated SVD) of the producer × partner matrix of smoothed success residuals: a pair
that never met still gets a score from producers and partners that behave alike.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import svds

from ayni.domain.lifecycle import ProducerKind
from ayni.matching.entities import Candidate, ListingInput

K = TypeVar("K", str, int)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One offer of one listing to one partner, and what happened."""

    producer_id: int
    partner_id: int
    producer_kind: ProducerKind
    accepted: bool
    collected: bool  # accepted and the producer handed the waste over
    material: str = ""  # the listing's material ("" when unknown: no per-material count)
    kg: float = 0.0  # the listing's kilograms (0 when unknown: no per-size count)


@dataclass(frozen=True)
class Offer:
    """One offer of a listing to the candidate at ``position``, and its outcome."""

    position: int  # index into the event's candidates
    decided_at: datetime
    accepted: bool
    collected: bool


@dataclass(frozen=True)
class ListingEvent:
    """A listing, every candidate it had when published, and the offers made (the training log)."""

    week: int
    listing: ListingInput
    candidates: tuple[Candidate, ...]
    offers: tuple[Offer, ...]


def size_bucket(kg: float) -> int:
    """Lot size class: ⌊log2 kg⌋ clipped to 0…7 (under 2 kg, 2–4, 4–8 … 128 kg and over)."""
    return int(min(7, max(0, math.floor(math.log2(kg))))) if kg > 0 else 0


class InteractionHistory:
    """Smoothed rates per partner, producer, pair and partner × producer kind, plus latent factors."""

    def __init__(self, *, prior_strength: float = 5.0) -> None:
        self.prior_strength = prior_strength
        self.n_total = 0
        self.s_total = 0
        self.partner_n: defaultdict[int, int] = defaultdict(int)
        self.partner_s: defaultdict[int, int] = defaultdict(int)
        self.producer_accepted: defaultdict[int, int] = defaultdict(int)
        self.producer_delivered: defaultdict[int, int] = defaultdict(int)
        self.pair_n: defaultdict[tuple[int, int], int] = defaultdict(int)
        self.pair_s: defaultdict[tuple[int, int], int] = defaultdict(int)
        self.segment_n: defaultdict[tuple[int, str], int] = defaultdict(int)
        self.segment_s: defaultdict[tuple[int, str], int] = defaultdict(int)
        self.material_n: defaultdict[tuple[int, str], int] = defaultdict(int)
        self.material_s: defaultdict[tuple[int, str], int] = defaultdict(int)
        self.size_n: defaultdict[tuple[int, int], int] = defaultdict(int)
        self.size_s: defaultdict[tuple[int, int], int] = defaultdict(int)
        self.producer_offered: defaultdict[int, int] = defaultdict(int)
        self.a_total = 0
        self._producer_factors: dict[int, NDArray[np.float64]] = {}
        self._partner_factors: dict[int, NDArray[np.float64]] = {}
        self._table: _PartnerTable | None = None  # the per-partner rates as arrays, built on first use

    def add(self, outcomes: Iterable[Outcome]) -> None:
        self._table = None
        for o in outcomes:
            s = int(o.collected)
            self.n_total += 1
            self.s_total += s
            self.partner_n[o.partner_id] += 1
            self.partner_s[o.partner_id] += s
            if o.accepted:
                self.producer_accepted[o.producer_id] += 1
                self.producer_delivered[o.producer_id] += s
            self.pair_n[(o.producer_id, o.partner_id)] += 1
            self.pair_s[(o.producer_id, o.partner_id)] += s
            seg = (o.partner_id, str(o.producer_kind))
            self.segment_n[seg] += 1
            self.segment_s[seg] += s
            self.producer_offered[o.producer_id] += 1
            self.a_total += int(o.accepted)
            if o.material:
                self.material_n[(o.partner_id, o.material)] += 1
                self.material_s[(o.partner_id, o.material)] += s
            if o.kg > 0:
                self.size_n[(o.partner_id, size_bucket(o.kg))] += 1
                self.size_s[(o.partner_id, size_bucket(o.kg))] += s

    @property
    def global_rate(self) -> float:
        return (self.s_total + 1.0) / (self.n_total + 2.0)

    def _smooth(self, s: int, n: int, prior: float) -> float:
        return (s + self.prior_strength * prior) / (n + self.prior_strength)

    def partner_rate(self, partner_id: int) -> float:
        return self._smooth(self.partner_s.get(partner_id, 0), self.partner_n.get(partner_id, 0),
                            self.global_rate)

    def producer_reliability(self, producer_id: int) -> float:
        """Share of accepted matches the producer actually handed over (prior 0.85)."""
        return self._smooth(self.producer_delivered.get(producer_id, 0),
                            self.producer_accepted.get(producer_id, 0), 0.85)

    def pair_rate(self, producer_id: int, partner_id: int) -> float:
        key = (producer_id, partner_id)
        return self._smooth(self.pair_s.get(key, 0), self.pair_n.get(key, 0), self.partner_rate(partner_id))

    def segment_rate(self, partner_id: int, producer_kind: str) -> float:
        key = (partner_id, producer_kind)
        return self._smooth(self.segment_s.get(key, 0), self.segment_n.get(key, 0),
                            self.partner_rate(partner_id))

    def material_rate(self, partner_id: int, material: str) -> float:
        """The partner's smoothed success rate with this material (prior: its overall rate)."""
        key = (partner_id, material)
        return self._smooth(self.material_s.get(key, 0), self.material_n.get(key, 0), self.partner_rate(partner_id))

    def size_rate(self, partner_id: int, kg: float) -> float:
        """The partner's smoothed success rate with lots of this size (``size_bucket``; prior: its overall rate)."""
        key = (partner_id, size_bucket(kg))
        return self._smooth(self.size_s.get(key, 0), self.size_n.get(key, 0), self.partner_rate(partner_id))

    def producer_accept_rate(self, producer_id: int) -> float:
        """Share of the producer's offers that partners accepted, smoothed towards the platform's rate: how
        partners judge its lots (grade, sorting) whoever they were offered to."""
        prior = (self.a_total + 1.0) / (self.n_total + 2.0)
        return self._smooth(self.producer_accepted.get(producer_id, 0), self.producer_offered.get(producer_id, 0),
                            prior)

    def partner_rates(self, partner_ids: Sequence[int], *, producer_kind: str, material: str,
                      kg: float) -> PartnerRates:
        """``partner_rate``, log1p(partner volume), ``segment_rate``, ``material_rate`` and ``size_rate`` for
        many partners at once, equal to the scalar methods to the last bit (the same operations on arrays).

        Reads a table of the counts as arrays, built on the first call after ``add`` (``compile`` builds it
        ahead, e.g. in a background thread, so that a request never pays for it)."""
        table = self.compile()
        rows = table.rows(partner_ids)
        rate = table.rate[rows]
        k = self.prior_strength
        return PartnerRates(
            rate=rate, log_n=table.log_n[rows],
            segment_rate=table.smooth(table.segment, producer_kind, rows, rate, k),
            material_rate=table.smooth(table.material, material, rows, rate, k),
            size_rate=table.smooth(table.size, size_bucket(kg), rows, rate, k))

    def compile(self) -> _PartnerTable:
        """The per-partner counts as arrays (cached until the next ``add``)."""
        table = self._table
        if table is None:
            table = self._table = _PartnerTable(self)
        return table

    def refresh_latent(self, *, rank: int = 8) -> None:
        """Refit the low-rank producer × partner factors from the counts so far (deterministic: ARPACK v0)."""
        if not self.pair_n:
            return
        producers = sorted({p for p, _ in self.pair_n})
        partners = sorted({q for _, q in self.pair_n})
        k = min(rank, min(len(producers), len(partners)) - 1)
        if k < 1:
            return
        pi = {p: i for i, p in enumerate(producers)}
        qi = {q: j for j, q in enumerate(partners)}
        g = self.global_rate
        rows, cols, vals = [], [], []
        for (p, q), n in self.pair_n.items():
            rows.append(pi[p])
            cols.append(qi[q])
            vals.append((self.pair_s[(p, q)] - n * g) / (n + self.prior_strength))
        mat = csr_matrix((vals, (rows, cols)), shape=(len(producers), len(partners)))
        v0 = np.full(min(mat.shape), 1.0 / np.sqrt(min(mat.shape)))
        u, s, vt = svds(mat, k=k, v0=v0)
        u_s = u * s
        self._producer_factors = {p: u_s[i] for p, i in pi.items()}
        self._partner_factors = {q: vt[:, j] for q, j in qi.items()}

    def latent(self, producer_id: int, partner_ids: Sequence[int]) -> NDArray[np.float64]:
        u = self._producer_factors.get(producer_id)
        if u is None:
            return np.zeros(len(partner_ids))
        return np.array([float(u @ v) if (v := self._partner_factors.get(q)) is not None else 0.0
                         for q in partner_ids])


@dataclass(frozen=True, slots=True)
class PartnerRates:
    """The partner-level history features of several partners (arrays aligned with the partner ids asked)."""

    rate: NDArray[np.float64]
    log_n: NDArray[np.float64]
    segment_rate: NDArray[np.float64]
    material_rate: NDArray[np.float64]
    size_rate: NDArray[np.float64]


class _PartnerTable:
    """An ``InteractionHistory``'s per-partner counts as arrays: one row per partner seen (sorted ids) and a
    last row of zeros for any other partner; per producer kind, material and size class, that key's counts."""

    def __init__(self, history: InteractionHistory) -> None:
        self.ids = np.array(sorted(history.partner_n), dtype=np.int64)
        n = np.array([history.partner_n[q] for q in self.ids.tolist()] + [0], dtype=np.int64)
        s = np.array([history.partner_s.get(q, 0) for q in self.ids.tolist()] + [0], dtype=np.int64)
        k = history.prior_strength
        self.rate: NDArray[np.float64] = (s + k * history.global_rate) / (n + k)
        self.log_n: NDArray[np.float64] = np.log1p(n)
        self.segment = self._by_key(history.segment_n, history.segment_s)
        self.material = self._by_key(history.material_n, history.material_s)
        self.size = self._by_key(history.size_n, history.size_s)

    def _by_key(self, counts: dict[tuple[int, K], int],
                successes: dict[tuple[int, K], int]) -> dict[K, tuple[NDArray[np.int64], NDArray[np.int64]]]:
        grouped: dict[K, tuple[list[int], list[int], list[int]]] = {}
        for (q, key), n in counts.items():
            qs, ns, ss = grouped.setdefault(key, ([], [], []))
            qs.append(q)
            ns.append(n)
            ss.append(successes.get((q, key), 0))
        out = {}
        for key, (ids, ns, ss) in grouped.items():
            rows = self.rows(ids)
            n_col = np.zeros(len(self.ids) + 1, dtype=np.int64)
            s_col = np.zeros(len(self.ids) + 1, dtype=np.int64)
            n_col[rows], s_col[rows] = ns, ss
            out[key] = (n_col, s_col)
        return out

    def rows(self, partner_ids: Sequence[int]) -> NDArray[np.intp]:
        """Each partner's row (the last one for a partner without outcomes)."""
        q = np.asarray(partner_ids, dtype=np.int64)
        if len(self.ids) == 0:
            return np.zeros(len(q), dtype=np.intp)
        pos = np.minimum(np.searchsorted(self.ids, q), len(self.ids) - 1)
        return np.where(self.ids[pos] == q, pos, len(self.ids))

    @staticmethod
    def smooth(columns: dict[K, tuple[NDArray[np.int64], NDArray[np.int64]]], key: K, rows: NDArray[np.intp],
               prior: NDArray[np.float64], k: float) -> NDArray[np.float64]:
        """``InteractionHistory._smooth`` of the key's counts towards ``prior``, for each row."""
        col = columns.get(key)
        if col is None:
            return (0 + k * prior) / (0 + k)
        return (col[1][rows] + k * prior) / (col[0][rows] + k)
