from __future__ import annotations

from fastapi import APIRouter, File, UploadFile

from ayni.api.deps import ClassifierDep, CurrentUser, SessionDep, SettingsDep, reads_only
from ayni.api.schemas.classify import ClassificationPublic, ClassProbability
from ayni.errors import PayloadTooLarge
from ayni.services import classification

router = APIRouter(tags=["classify"])


@router.post("/classify")
@reads_only
def classify(user: CurrentUser, session: SessionDep, settings: SettingsDep, classifier: ClassifierDep,
                   file: UploadFile = File(description="JPEG, PNG, WebP or HEIC photo")) -> ClassificationPublic:
    """What material is in the photo, how sure we are (calibrated), how to prepare it and what it is worth.

    ``abstained`` is true when the model is not sure enough: ask the person to confirm the material."""
    data = file.file.read(settings.upload.max_bytes + 1)
    if len(data) > settings.upload.max_bytes:
        raise PayloadTooLarge(f"The photo is larger than the {settings.upload.max_bytes / 1e6:.0f} MB limit.")
    result = classification.classify(session, classifier, data)
    p = result.prediction
    n = result.offers_seen
    note = (f"median of {n} partner offers on Ayni" if n else "no partner on Ayni lists a price for it yet")
    return ClassificationPublic(
        material=p.material, name_es=result.name_es, name_en=result.name_en, confidence=round(p.confidence, 4),
        top3=[ClassProbability(material=m, probability=round(q, 4)) for m, q in p.top3], abstained=p.abstained,
        verdict=p.verdict.value, advice_es=result.advice_es, advice_en=result.advice_en,
        typical_value_cents_per_kg=result.typical_cents_per_kg, typical_value_note=note, model_version=p.model_version)
