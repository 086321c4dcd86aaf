"""Serving: ``Classifier`` over ONNX Runtime, train/serve parity, bad uploads, the shipped model."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ayni.domain.materials import CLASSES, get_material
from ayni.errors import InvalidInput, ModelUnavailable, PayloadTooLarge, UnsupportedMediaType
from ayni.vision import Classifier, Prediction, PreprocessParams
from ayni.vision.meta import ASSETS_DIR, META_FILE, MODEL_FILE, ModelMetadata


def _jpeg(size: tuple[int, int] = (120, 90), *, orientation: int | None = None, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    arr[:, : size[0] // 3] = (200, 40, 40)
    buf = io.BytesIO()
    kw = {}
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    Image.fromarray(arr).save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised Lite0 with a 7-class head, exported like the real one (small input)."""
    import torch

    from ayni.vision.export import export_onnx, write_metadata
    from ayni.vision.network import EfficientNetLite0

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("model")
    model = EfficientNetLite0(num_classes=len(CLASSES)).eval()
    export_onnx(model, out / MODEL_FILE, size=64)
    params = PreprocessParams(size=64, max_bytes=200_000, max_pixels=1_000_000)
    write_metadata(ModelMetadata(version="test-0", classes=list(CLASSES), temperature=1.5, threshold=0.5,
                                 preprocessing=params.to_dict()), out)
    return out


@pytest.fixture(scope="module")
def clf(tiny_model_dir: Path) -> Classifier:
    return Classifier.load(tiny_model_dir, threads=1)


def test_predict_returns_a_consistent_prediction(clf: Classifier) -> None:
    pred = clf.predict(_jpeg())
    assert isinstance(pred, Prediction)
    assert pred.material in CLASSES
    assert pred.model_version == "test-0"
    assert [c for c, _ in pred.top3][0] == pred.material
    probs = [p for _, p in pred.top3]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-9
    assert pred.confidence == pytest.approx(probs[0])
    assert pred.verdict == get_material(pred.material).verdict
    assert pred.abstained == (pred.confidence < clf.meta.threshold)


def test_probabilities_are_calibrated_with_the_stored_temperature(clf: Classifier) -> None:
    data = _jpeg(seed=3)
    logits = clf.logits(clf.preprocess(data)[None])[0]
    z = logits / clf.meta.temperature
    expected = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(clf.predict_proba(data), expected, rtol=1e-5)


def test_abstains_below_threshold(tiny_model_dir: Path, tmp_path: Path) -> None:
    for name in (MODEL_FILE, META_FILE):
        shutil.copyfile(tiny_model_dir / name, tmp_path / name)
    meta = json.loads((tmp_path / META_FILE).read_text())
    meta["threshold"] = 1.01  # nothing can be that sure
    (tmp_path / META_FILE).write_text(json.dumps(meta))
    assert Classifier.load(tmp_path).predict(_jpeg()).abstained


def test_training_and_serving_paths_give_identical_tensors(clf: Classifier, tmp_path: Path) -> None:
    """Parity: the file the training code reads and the upload the server gets → the same tensor."""
    from ayni.vision.features import load_batch

    data = _jpeg((300, 200), orientation=6)
    (tmp_path / "photo.jpg").write_bytes(data)
    trained_on = load_batch(tmp_path, ["photo.jpg"], params=clf.params).numpy()[0]
    served = clf.preprocess(data)
    assert trained_on.dtype == served.dtype == np.float32
    np.testing.assert_array_equal(trained_on, served)


def test_serving_uses_the_same_preprocessing_defaults_as_training() -> None:
    from ayni.vision.train import TrainConfig

    assert TrainConfig(data_dir=Path("."), cache_dir=Path(".")).params == PreprocessParams()


def test_exif_rotation_changes_what_the_model_sees(clf: Classifier) -> None:
    upright = clf.preprocess(_jpeg((120, 90)))
    rotated = clf.preprocess(_jpeg((120, 90), orientation=6))
    assert not np.allclose(upright, rotated, atol=0.5)


def test_bad_uploads_raise_the_mapped_errors(clf: Classifier) -> None:
    with pytest.raises(PayloadTooLarge):
        clf.predict(b"\xff\xd8\xff" + b"\0" * 300_000)
    with pytest.raises(UnsupportedMediaType):
        clf.predict(b"<html>not a photo</html>")
    with pytest.raises(InvalidInput):
        clf.predict(_jpeg()[:200])
    with pytest.raises(InvalidInput):
        clf.predict(b"")
    big = io.BytesIO()
    Image.new("RGB", (1200, 1000)).save(big, "PNG")  # 1.2 MP > the fixture's 1 MP limit, few bytes
    with pytest.raises(InvalidInput):
        clf.predict(big.getvalue())


def test_upload_limits_can_be_overridden_from_settings(tiny_model_dir: Path) -> None:
    small = Classifier.load(tiny_model_dir, max_bytes=100)
    with pytest.raises(PayloadTooLarge):
        small.predict(_jpeg())


def test_missing_model_is_model_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable):
        Classifier.load(tmp_path)


def test_threads_are_configurable(tiny_model_dir: Path) -> None:
    a = Classifier.load(tiny_model_dir, threads=1).predict_proba(_jpeg(seed=5))
    b = Classifier.load(tiny_model_dir, threads=2).predict_proba(_jpeg(seed=5))
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_shipped_model_is_present_small_and_consistent() -> None:
    onnx_path, meta_path = ASSETS_DIR / MODEL_FILE, ASSETS_DIR / META_FILE
    assert onnx_path.is_file() and meta_path.is_file(), "ship a model: ayni vision train + export"
    assert onnx_path.stat().st_size <= 20 * 1024 * 1024
    meta = ModelMetadata.from_json(meta_path.read_text())
    assert meta.classes == list(CLASSES)
    assert meta.temperature > 0 and 0 < meta.threshold <= 1
    assert meta.params == PreprocessParams()
    assert meta.metrics["abstention"]["val_precision"] >= 0.98


def test_shipped_model_predicts_a_photo() -> None:
    clf = Classifier.load()
    pred = clf.predict(_jpeg((512, 384)))
    assert pred.material in CLASSES and 0 < pred.confidence <= 1


def _head(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    gemm = next(n for n in graph.node if n.op_type == "Gemm" and "logits" in n.output)
    return init[gemm.input[1]], init[gemm.input[2]]


def test_embed_returns_the_pooled_features_the_head_reads(clf: Classifier, tiny_model_dir: Path) -> None:
    photos = [_jpeg(seed=1), _jpeg(seed=2), _jpeg((60, 80), seed=3)]
    emb = clf.embed(photos, batch_size=2)
    assert emb.shape == (3, 1280) and clf.has_features
    weight, bias = _head(tiny_model_dir / MODEL_FILE)
    logits = clf.logits(np.stack([clf.preprocess(p) for p in photos]))
    np.testing.assert_allclose(emb @ weight.T + bias, logits, rtol=1e-4, atol=1e-4)


def test_a_logits_only_model_gains_a_features_output_with_identical_logits(tmp_path: Path) -> None:
    import torch

    from ayni.vision.export import add_features_output
    from ayni.vision.meta import INPUT_NAME, OUTPUT_NAME
    from ayni.vision.network import EfficientNetLite0

    torch.manual_seed(1)
    net = EfficientNetLite0(num_classes=len(CLASSES)).eval()
    old = tmp_path / "old" / MODEL_FILE
    old.parent.mkdir()
    torch.onnx.export(net, (torch.zeros(1, 3, 64, 64),), str(old), input_names=[INPUT_NAME],
                      output_names=[OUTPUT_NAME], dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                      opset_version=17, dynamo=False)
    new = tmp_path / "new" / MODEL_FILE
    new.parent.mkdir()
    add_features_output(old, new)
    params = PreprocessParams(size=64, max_bytes=200_000, max_pixels=1_000_000)
    for d in (old.parent, new.parent):
        write_metadata_for(d, params)
    before, after = Classifier.load(old.parent), Classifier.load(new.parent)
    batch = np.stack([before.preprocess(_jpeg(seed=s)) for s in range(3)])
    assert np.array_equal(before.logits(batch), after.logits(batch))
    assert not before.has_features and after.embed([_jpeg()]).shape == (1, 1280)
    with pytest.raises(ModelUnavailable):
        before.embed([_jpeg()])


def write_metadata_for(directory: Path, params: PreprocessParams) -> None:
    from ayni.vision.export import write_metadata

    write_metadata(ModelMetadata(version="test-1", classes=list(CLASSES), temperature=1.0, threshold=0.5,
                                 preprocessing=params.to_dict()), directory)


def test_the_shipped_model_serves_its_pooled_features() -> None:
    clf = Classifier.load()
    assert clf.has_features
    emb = clf.embed([_jpeg(), _jpeg(seed=4)])
    weight, bias = _head(ASSETS_DIR / MODEL_FILE)
    logits = clf.logits(np.stack([clf.preprocess(p) for p in (_jpeg(), _jpeg(seed=4))]))
    np.testing.assert_allclose(emb @ weight.T + bias, logits, rtol=1e-4, atol=1e-3)
