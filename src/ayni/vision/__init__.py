"""Photo → material classifier: preprocessing, network, training, calibration, export and serving.

Serving needs only ``Classifier`` (ONNX Runtime); the training modules import PyTorch lazily
through their own imports, so ``from ayni.vision import Classifier`` stays light.
"""

from __future__ import annotations

from ayni.vision.predict import Classifier, Prediction
from ayni.vision.preprocess import PreprocessParams, decode_image, preprocess

__all__ = ["Classifier", "Prediction", "PreprocessParams", "decode_image", "preprocess"]
