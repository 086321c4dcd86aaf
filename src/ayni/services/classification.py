"""Photo → material for a producer: the classifier's answer plus preparation advice and typical value."""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ayni.domain.materials import MATERIALS, accepts, get_material
from ayni.errors import InvalidInput, ModelUnavailable, PayloadTooLarge, UnsupportedMediaType
from ayni.observability import metrics
from ayni.storage.tables import PartnerMaterial
from ayni.vision import Classifier, Prediction

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Classification:
    prediction: Prediction
    advice_es: str
    advice_en: str
    name_es: str
    name_en: str
    typical_cents_per_kg: int | None
    offers_seen: int


def require_classifier(classifier: Classifier | None) -> Classifier:
    if classifier is None:
        raise ModelUnavailable("The photo classifier is not available right now; choose the material by hand.")
    return classifier


def typical_price(session: Session, material: str) -> tuple[int | None, int]:
    """Median price (céntimos/kg) that partners on the platform offer for ``material``, and how many offers."""
    rows = session.execute(select(PartnerMaterial.material, PartnerMaterial.price_cents_per_kg)).all()
    prices = [price for offered, price in rows if accepts(offered, material)]
    return (int(statistics.median(prices)) if prices else None), len(prices)


def predict(classifier: Classifier | None, data: bytes) -> Prediction:
    """The classifier's answer for a photo (no database: a route may run it in a worker thread of its own)."""
    if classifier is None:
        metrics.record_classification_failure(reason="unavailable")
    start = time.perf_counter()
    try:
        prediction = require_classifier(classifier).predict(data)
    except (InvalidInput, PayloadTooLarge, UnsupportedMediaType):
        metrics.record_classification_failure(reason="invalid_input")
        raise
    except ModelUnavailable:
        raise
    except Exception as exc:  # the model file was loaded but inference fails (corrupt weights, runtime error)
        log.exception("the classifier failed on a valid photo")
        metrics.record_classification_failure(reason="unavailable")
        raise ModelUnavailable(
            "The photo classifier failed on this photo and is being looked at; choose the material by hand."
        ) from exc
    metrics.record_classification(material=prediction.material, confidence=prediction.confidence,
                                  abstained=prediction.abstained, latency_s=time.perf_counter() - start,
                                  model_version=prediction.model_version)
    return prediction


def describe(session: Session, prediction: Prediction) -> Classification:
    """Advice and the typical price on Ayni for a prediction."""
    material = get_material(prediction.material)
    cents, n = typical_price(session, material.code) if material.code in MATERIALS else (None, 0)
    return Classification(prediction, material.advice_es, material.advice_en, material.name_es, material.name_en,
                          cents, n)


def classify(session: Session, classifier: Classifier | None, data: bytes) -> Classification:
    return describe(session, predict(classifier, data))
