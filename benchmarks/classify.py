"""End-to-end photo classification latency: our EfficientNet-Lite0 vs a ResNet50 (seed 002's shape).

Same harness for both: bytes of a real photo → ``ayni.vision.preprocess`` (safe decode, EXIF,
resize, normalise) → ONNX Runtime on CPU. Reports per-image latency on one thread (p50, p99) and
throughput with two threads serving concurrently (one shared session, intra-op 1 thread, two callers).
The ResNet50 has random weights (timing only), the classifier head of seed 002
(2048→1024→ReLU→Dropout→6), and is exported to ONNX in a temporary directory in this same run.

    python -m benchmarks.classify [--n 300]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks._report import write_section

log = logging.getLogger("benchmarks.classify")


def _resnet50(num_classes: int = 6) -> object:
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, mid: int, stride: int) -> None:
            super().__init__()
            cout = mid * 4
            self.body = nn.Sequential(
                nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                nn.Conv2d(mid, mid, 3, stride, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())
            self.act = nn.ReLU(inplace=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.body(x) + self.down(x))

    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                               nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for mid, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(cin, mid, stride if i == 0 else 1))
            cin = mid * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Sequential(nn.Linear(2048, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, num_classes))]
    torch.manual_seed(0)
    return nn.Sequential(*layers).eval()


def _session(path: Path, threads: int) -> object:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _photos(data_dir: Path, n: int) -> list[bytes]:
    """A fixed mix of real photos: TrashNet (512×384 JPEG) and Kaggle test (web thumbnails)."""
    files = sorted((data_dir / "images/trashnet").glob("*/*.jpg"))[::7][: n // 2]
    files += sorted((data_dir / "images/waste-classification/test").glob("*/*.jpg"))[::11][: n - len(files)]
    if not files:
        raise SystemExit(f"no photos under {data_dir}/images: set AYNI_DATA_DIR")
    return [f.read_bytes() for f in files]


def _runner(session: object, params: object) -> Callable[[bytes], np.ndarray]:
    from ayni.vision.preprocess import preprocess

    name = session.get_inputs()[0].name  # type: ignore[attr-defined]

    def run(data: bytes) -> np.ndarray:
        x = preprocess(data, params=params)[None]  # type: ignore[arg-type]
        return session.run(None, {name: x})[0]  # type: ignore[attr-defined,no-any-return]

    return run


def _measure(model: Path, photos: list[bytes], params: object, rounds: int) -> dict[str, float]:
    single = _runner(_session(model, 1), params)
    for data in photos[:10]:
        single(data)
    lat: list[float] = []
    for _ in range(rounds):
        for data in photos:
            t = time.perf_counter()
            single(data)
            lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    shared = _runner(_session(model, 1), params)
    work = photos * rounds
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(shared, photos[:10]))
        t = time.perf_counter()
        list(pool.map(shared, work))
        wall = time.perf_counter() - t
    return {"p50": statistics.median(lat), "p99": lat[int(0.99 * (len(lat) - 1))], "mean": statistics.fmean(lat),
            "throughput_2t": len(work) / wall, "n": len(lat), "mb": model.stat().st_size / 1e6}


def main() -> None:
    import torch

    from ayni.settings import get_settings
    from ayni.vision.export import export_onnx
    from ayni.vision.meta import ASSETS_DIR, MODEL_FILE
    from ayni.vision.predict import Classifier

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200, help="photos per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    photos = _photos(get_settings().data_dir, args.n)
    clf = Classifier.load(ASSETS_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        resnet = export_onnx(_resnet50(), Path(tmp) / "resnet50.onnx")  # type: ignore[arg-type]
        ours = _measure(ASSETS_DIR / MODEL_FILE, photos, clf.params, args.rounds)
        theirs = _measure(resnet, photos, clf.params, args.rounds)
    speedup = theirs["p50"] / ours["p50"]
    rows = [f"| {name} | {m['mb']:.1f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['mean']:.2f} | "
            f"{m['throughput_2t']:.1f} |" for name, m in (("EfficientNet-Lite0 (ours, shipped ONNX)", ours),
                                                        ("ResNet50, seed 002 shape (random weights)", theirs))]
    body = "\n".join([
        "## Photo classification latency (`/v1/classify` model path)", "",
        f"End-to-end per image: bytes → safe decode + EXIF + resize + normalise → ONNX Runtime (CPU). "
        f"{len(photos)} real photos (TrashNet 512×384 JPEGs and Kaggle web images) × {args.rounds} rounds; "
        f"model `{clf.version}`.", "",
        "| model | ONNX MB | p50 ms (1 thread) | p99 ms (1 thread) | mean ms | images/s (2 threads) |",
        "|---|---|---|---|---|---|", *rows, "",
        f"Speed-up at p50: **{speedup:.1f}×** (target ≥ 4×). p50 target ≤ 10 ms: "
        f"**{'met' if ours['p50'] <= 10 else 'not met'}** ({ours['p50']:.2f} ms). "
        f"The HTTP overhead of `/v1/classify` is not included here.",
    ])
    log.info("\n%s", body)
    if not args.no_write:
        write_section("classify", body, command="python -m benchmarks.classify")


if __name__ == "__main__":
    main()
