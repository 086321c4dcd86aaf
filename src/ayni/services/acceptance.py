"""The acceptance estimator that matching serves: the registry's ``ranker`` champion, else the rule.

``ServedAcceptance`` (one per process, on ``app.state``) holds the learnt ``AcceptanceModel`` that the
``ChampionWatcher`` published, if any. For each request ``scorer(session)`` returns what scores it: the
learnt model over the platform's interaction history (``HistoryCache``, rebuilt from the decided
matches at most every ``ttl_s`` seconds), or — no champion yet, a registry that cannot be reached, an
artifact that would not load — the cold-start ``RuleAcceptance``. Either way the request is answered.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final, Literal

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ayni.domain.lifecycle import MatchStatus, ProducerKind
from ayni.errors import ModelUnavailable
from ayni.matching.history import InteractionHistory, Outcome
from ayni.matching.ranker import FEATURES, AcceptanceModel, LearntAcceptance
from ayni.matching.scoring import AcceptanceEstimator, RuleAcceptance
from ayni.observability import metrics
from ayni.storage.tables import Listing, Match, Producer

log = logging.getLogger(__name__)

RANKER: Final = "ranker"  # the registered model name
RULE: Final = "rule"
ScorerName = Literal["rule", "ranker"]
MODEL_FILE = "acceptance_model.json"  # what ``ayni matching train-ranker`` writes (AcceptanceModel.save)
META_FILE = "ranker.json"  # its metadata; ``model_file`` names the model file


def load_ranker(model_dir: Path) -> AcceptanceModel:
    """The ``AcceptanceModel`` in a registered model directory, checked by scoring one row.

    The model file is the one ``ranker.json`` names, else ``acceptance_model.json`` (what the trainers
    write); a missing, unreadable or incompatible one raises ``ModelUnavailable``."""
    path = _model_file(model_dir)
    try:
        model = AcceptanceModel.load(path)
        if model.n_features_in_ != len(FEATURES):
            raise ValueError(f"{model.n_features_in_} features, serving computes {len(FEATURES)}")
        probe = model.predict_proba(np.zeros((1, len(FEATURES))))
        if not np.all(np.isfinite(probe)):
            raise ValueError("non-finite probability")
    except Exception as exc:
        raise ModelUnavailable(f"{path.name} is not a usable acceptance model: {exc}") from exc
    return model


def _model_file(model_dir: Path) -> Path:
    meta = model_dir / META_FILE
    if meta.is_file():
        try:
            named = json.loads(meta.read_text(encoding="utf-8")).get("model_file")
        except (ValueError, AttributeError):
            named = None
        if isinstance(named, str) and (model_dir / named).is_file():
            return model_dir / named
    if (model_dir / MODEL_FILE).is_file():
        return model_dir / MODEL_FILE
    raise ModelUnavailable(f"No acceptance model file in {model_dir}.")


class HistoryCache:
    """The platform's ``InteractionHistory``, built from the decided matches and cached per process.

    With ``sessions`` (the API) every build runs in a background thread on a session of its own, so no
    request ever waits for one: ``get`` answers ``None`` until the first build is done (matching then
    scores with the rule) and the stale history while a rebuild older than ``ttl_s`` is under way; a
    failed build is retried after ``ttl_s``. Without ``sessions`` the request that finds it missing or
    stale builds it. Bounded: only the ``max_matches`` most recent decisions of the last ``window_days``
    days are counted, read in one query. Outcomes:
    collected = accepted and handed over; declined = not accepted; cancelled after acceptance = accepted,
    not handed over. Pending offers and acceptances, and offers withdrawn before the partner answered,
    are not outcomes yet."""

    def __init__(self, *, ttl_s: float = 60.0, window_days: int = 365, max_matches: int = 100_000,
                 latent_rank: int = 8, sessions: Callable[[], AbstractContextManager[Session]] | None = None) -> None:
        self.ttl_s = ttl_s
        self.window_days = window_days
        self.max_matches = max_matches
        self.latent_rank = latent_rank
        self.sessions = sessions
        self._history: InteractionHistory | None = None
        self._built = -math.inf  # when the last build ended (or failed)
        self._lock = threading.Lock()  # held by whoever is building (released by the builder's thread)

    @property
    def ready(self) -> bool:
        return self._history is not None

    def invalidate(self) -> None:
        self._history, self._built = None, -math.inf

    def get(self, session: Session) -> InteractionHistory | None:
        """The history (possibly stale by up to one rebuild); ``None`` while the first background build runs."""
        history = self._history
        if history is not None and time.monotonic() - self._built <= self.ttl_s:
            return history
        if self.sessions is not None:
            self.warm()
            return history
        if history is None:
            with self._lock:  # the first build (or wait for the one under way)
                if self._history is None:
                    self._store(self.build(session))
                return self._history
        if self._lock.acquire(blocking=False):  # stale: this request rebuilds it, the others keep the old one
            try:
                self._store(self.build(session))
            finally:
                self._lock.release()
        return self._history or history

    def warm(self) -> None:
        """Start a background build if one is due and none is under way (a no-op without ``sessions``)."""
        due = time.monotonic() - self._built > self.ttl_s  # after a failed build too: no retry storm
        if self.sessions is not None and due and self._lock.acquire(blocking=False):
            threading.Thread(target=self._rebuild, name="history-rebuild", daemon=True).start()

    def _rebuild(self) -> None:
        assert self.sessions is not None
        try:
            with self.sessions() as session:
                self._store(self.build(session))
        except Exception:  # noqa: BLE001 - the previous history (or the rule) keeps serving
            log.exception("building the interaction history failed; retrying in %.0f s", self.ttl_s)
            self._built = time.monotonic()
        finally:
            self._lock.release()

    def _store(self, history: InteractionHistory) -> None:
        self._history, self._built = history, time.monotonic()

    def build(self, session: Session, *, now: datetime | None = None) -> InteractionHistory:
        """One query: the ``max_matches`` most recent decided matches of the window, with the producer's kind
        and the listing's material and kilograms (the per-material and per-size rates)."""
        started = time.perf_counter()
        since = (now or datetime.now(UTC)) - timedelta(days=self.window_days)
        decided = or_(Match.status.in_((MatchStatus.COLLECTED.value, MatchStatus.DECLINED.value)),
                      (Match.status == MatchStatus.CANCELLED.value) & Match.accepted_at.is_not(None))
        rows = session.execute(
            select(Listing.producer_id, Match.partner_id, Producer.kind, Match.status, Listing.material,
                   Listing.estimated_kg)
            .select_from(Match).join(Listing, Listing.id == Match.listing_id)
            .join(Producer, Producer.id == Listing.producer_id).where(decided, Match.updated_at >= since)
            .order_by(Match.updated_at.desc(), Match.id.desc()).limit(self.max_matches))
        history = InteractionHistory()
        history.add(_outcome(*row) for row in rows)
        history.refresh_latent(rank=self.latent_rank)
        history.compile()  # the per-partner arrays the features read: built here, off the request path
        log.info("interaction history built from %d decided matches in %.0f ms", history.n_total,
                 (time.perf_counter() - started) * 1000)
        return history


def _outcome(producer_id: int, partner_id: int, kind: str, status: str, material: str, kg: Decimal) -> Outcome:
    """A decided match as an outcome: collected, declined, or cancelled after acceptance (the only cancelled
    ones the query reads)."""
    collected = status == MatchStatus.COLLECTED.value
    return Outcome(producer_id=producer_id, partner_id=partner_id, producer_kind=ProducerKind(kind),
                   accepted=status != MatchStatus.DECLINED.value, collected=collected, material=material,
                   kg=float(kg))


@dataclass(frozen=True, slots=True)
class Scorer:
    """What scores one request: the estimator, and the model behind it (``rule``, or ``ranker`` + version)."""

    estimator: AcceptanceEstimator
    model: ScorerName
    version: int | None = None

    def scored_by(self, p_source: str) -> tuple[ScorerName, int | None]:
        """(model, version) behind one result: a result the rule scored (``p_source`` ``rule``: the
        learnt model failed on that request) says so even when the ranker was asked."""
        return (RANKER, self.version) if p_source == LearntAcceptance.source else (RULE, None)


RULE_SCORER = Scorer(RuleAcceptance(), RULE)


class ServedAcceptance:
    """The learnt acceptance model being served (published by the champion watcher), with its history."""

    def __init__(self, *, history: HistoryCache | None = None) -> None:
        self.history = history or HistoryCache()
        self._served: tuple[AcceptanceModel, int | None] | None = None

    def serve(self, model: AcceptanceModel, version: int | None) -> None:
        """From now on requests are scored by ``model`` (one reference swap: no request fails or waits)."""
        self._served = (model, version)
        self.history.warm()
        metrics.set_model(model=RANKER, version=None if version is None else str(version), loaded=True)
        log.info("matching scored by the learnt ranker, version %s", version)

    def scorer(self, session: Session) -> Scorer:
        served = self._served
        if served is None:
            return RULE_SCORER
        model, version = served
        history = self.history.get(session)
        if history is None:  # its first history is still being built
            return RULE_SCORER
        return Scorer(LearntAcceptance(model, history), RANKER, version)
