"""EfficientNet-Lite0: strict weight loading, and the pretrained net knows a cat from a coffee cup.

The "known photo" check uses scikit-image's bundled sample images (``chelsea``: a tabby cat;
``coffee``: a cup of espresso). They ship inside the scikit-image wheel: nothing is downloaded.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from ayni.vision.network import EfficientNetLite0, build_pretrained, load_state_dict_strict, pretrained_weights_path
from ayni.vision.preprocess import preprocess

CATS = {281, 282, 283, 284, 285, 286, 287}  # tabby, tiger cat, Persian, Siamese, Egyptian cat, cougar, lynx
ESPRESSO, CUP = 967, 968


@pytest.fixture(scope="module")
def pretrained() -> EfficientNetLite0:
    torch.set_num_threads(1)
    return build_pretrained().eval()


def test_definition_matches_checkpoint_keys_and_shapes_exactly() -> None:
    state = torch.load(pretrained_weights_path(), map_location="cpu", weights_only=True)
    ours = EfficientNetLite0().state_dict()
    assert set(ours) == set(state)
    assert all(ours[k].shape == state[k].shape for k in state)


def test_strict_loading_rejects_a_missing_key() -> None:
    state = EfficientNetLite0().state_dict()
    state.pop("_blocks.3._bn1.running_var")
    with pytest.raises(RuntimeError, match="Missing key"):
        load_state_dict_strict(EfficientNetLite0(), state)


def test_strict_loading_rejects_an_unexpected_key() -> None:
    state = EfficientNetLite0().state_dict()
    state["_blocks.0._se_reduce.weight"] = torch.zeros(8, 32, 1, 1)  # squeeze-excite: not in Lite
    with pytest.raises(RuntimeError, match="Unexpected key"):
        load_state_dict_strict(EfficientNetLite0(), state)


def test_strict_loading_rejects_a_wrong_shape() -> None:
    state = EfficientNetLite0().state_dict()
    state["_conv_head.weight"] = torch.zeros(1280, 112, 1, 1)
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_state_dict_strict(EfficientNetLite0(), state)


def test_pretrained_weights_are_really_loaded(pretrained: EfficientNetLite0) -> None:
    state = torch.load(pretrained_weights_path(), map_location="cpu", weights_only=True)
    assert torch.equal(pretrained._conv_head.weight, state["_conv_head.weight"])
    assert torch.equal(pretrained._blocks[7]._bn1.running_mean, state["_blocks.7._bn1.running_mean"])


def test_new_head_replaces_imagenet_classifier() -> None:
    model = build_pretrained(num_classes=7).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 3, 224, 224))
    assert out.shape == (2, 7)


def _top5(model: EfficientNetLite0, rgb: np.ndarray) -> list[int]:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    x = torch.from_numpy(preprocess(buf.getvalue()))[None]
    with torch.no_grad():
        return model(x).topk(5).indices[0].tolist()


def test_pretrained_net_ranks_a_cat_photo_as_a_cat(pretrained: EfficientNetLite0) -> None:
    skdata = pytest.importorskip("skimage.data", reason="scikit-image provides the sample photos")
    top5 = _top5(pretrained, skdata.chelsea())
    assert top5[0] in CATS
    assert len(CATS.intersection(top5[:3])) >= 2


def test_pretrained_net_ranks_coffee_as_espresso_or_cup(pretrained: EfficientNetLite0) -> None:
    skdata = pytest.importorskip("skimage.data", reason="scikit-image provides the sample photos")
    top5 = _top5(pretrained, skdata.coffee())
    assert top5[0] in {ESPRESSO, CUP}
    assert {ESPRESSO, CUP} <= set(top5)


def test_random_weights_do_not_pass_the_cat_check() -> None:
    """The cat check can fail: an untrained net of the same shape does not rank cats first."""
    skdata = pytest.importorskip("skimage.data", reason="scikit-image provides the sample photos")
    torch.manual_seed(0)
    top5 = _top5(EfficientNetLite0().eval(), skdata.chelsea())
    assert len(CATS.intersection(top5[:3])) < 2
