from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, File, UploadFile

from ayni.api.deps import ClassifierDep, CurrentUser, SessionDep, SettingsDep, reads_only, run_db
from ayni.api.schemas.classify import ClassificationPublic, ClassProbability
from ayni.errors import PayloadTooLarge
from ayni.services import classification

router = APIRouter(tags=["classify"])

# Photos up to this size (a phone photo scaled down for upload: ~15 ms of CPU) are classified on the event
# loop: in a worker thread they took 2–4 times as long under load (two trips through a crowded loop, and the
# GIL back after each native step), and with as many workers as cores no core is idle for a thread to use.
# Larger ones (up to tens of megapixels: decoding alone can take longer than many requests) go to a thread,
# so that one big photo never holds up the other requests.
ON_LOOP_MAX_BYTES = 512 * 1024


@router.post("/classify")
@reads_only
async def classify(user: CurrentUser, session: SessionDep, settings: SettingsDep, classifier: ClassifierDep,
                   file: UploadFile = File(description="JPEG, PNG, WebP or HEIC photo")) -> ClassificationPublic:
    """What material is in the photo, how sure we are (calibrated), how to prepare it and what it is worth.

    ``abstained`` is true when the model is not sure enough: ask the person to confirm the material."""
    data = await file.read(settings.upload.max_bytes + 1)
    if len(data) > settings.upload.max_bytes:
        raise PayloadTooLarge(f"The photo is larger than the {settings.upload.max_bytes / 1e6:.0f} MB limit.")
    if len(data) <= ON_LOOP_MAX_BYTES:
        p = classification.predict(classifier, data)
    else:
        p = await anyio.to_thread.run_sync(classification.predict, classifier, data)
    result = await run_db(session, lambda: classification.describe(session, p))
    n = result.offers_seen
    note = (f"median of {n} partner offers on Ayni" if n else "no partner on Ayni lists a price for it yet")
    return ClassificationPublic(
        material=p.material, name_es=result.name_es, name_en=result.name_en, confidence=round(p.confidence, 4),
        top3=[ClassProbability(material=m, probability=round(q, 4)) for m, q in p.top3], abstained=p.abstained,
        verdict=p.verdict.value, advice_es=result.advice_es, advice_en=result.advice_en,
        typical_value_cents_per_kg=result.typical_cents_per_kg, typical_value_note=note, model_version=p.model_version)
