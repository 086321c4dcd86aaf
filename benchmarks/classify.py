"""End-to-end photo classification latency: our EfficientNet-Lite0 vs a ResNet50 (seed 002's shape).

Same harness for both: bytes of a real photo → ``ayni.vision.preprocess`` (safe decode, EXIF,
resize, normalise) → ONNX Runtime on CPU. Reports per-image latency on one thread (p50, p99) and
throughput with two threads serving concurrently (one shared session, intra-op 1 thread, two callers).
The ResNet50 has random weights (timing only), the classifier head of seed 002
(2048→1024→ReLU→Dropout→6), and is exported to ONNX in a temporary directory in this same run.

    python -m benchmarks.classify [--n 300] [--http-seconds 20]

``--http-seconds`` (0 skips it) also measures ``POST /v1/classify`` over HTTP: the platform served by
``ayni serve --workers 2`` on its embedded default (as ``benchmarks.load`` starts it), a producer's
token, 4 client threads posting the same real photos as multipart uploads for that long. The Python
client shares the 2 cores with the server, so the figure is a floor.
"""

from __future__ import annotations

import argparse
import logging
import os
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


def _http(photos: list[bytes], seconds: float, *, clients: int = 4, workers: int = 2) -> dict[str, float]:
    """images/s, p50/p99 (ms) and non-200 answers of ``POST /v1/classify`` through a real server."""
    import socket

    import httpx

    from benchmarks.load import Variant, login, prepare, serve, stop

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        variant = Variant("tree")
        prepare(variant, Path(tmp))
        proc = serve(variant, Path(tmp), port=port, workers=workers)
        try:
            token = login(port, Path(tmp)).token
            lat: list[float] = []
            bad: list[int] = []
            deadline = time.perf_counter() + seconds

            def client(k: int) -> None:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                  headers={"Authorization": f"Bearer {token}"}) as c:
                    i = k
                    while time.perf_counter() < deadline:
                        t = time.perf_counter()
                        r = c.post("/v1/classify", files={"file": ("photo.jpg", photos[i % len(photos)], "image/jpeg")})
                        if r.status_code == 200:
                            lat.append((time.perf_counter() - t) * 1000)
                        else:
                            bad.append(r.status_code)
                        i += clients

            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(client, range(clients)))  # a warm-up pass
                deadline = time.perf_counter() + seconds
                lat.clear()
                bad.clear()
                t0 = time.perf_counter()
                list(pool.map(client, range(clients)))
                wall = time.perf_counter() - t0
        finally:
            stop(proc)
    lat.sort()
    return {"rate": len(lat) / wall, "p50": statistics.median(lat), "p99": lat[int(0.99 * (len(lat) - 1))],
            "n": len(lat), "errors": len(bad), "clients": clients, "workers": workers, "seconds": wall}


def main() -> None:
    import torch

    from ayni.settings import get_settings
    from ayni.vision.export import export_onnx
    from ayni.vision.meta import ASSETS_DIR, MODEL_FILE
    from ayni.vision.predict import Classifier

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200, help="photos per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--http-seconds", type=float, default=20, help="HTTP /v1/classify run (0: skip)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    load_before = os.getloadavg()[0]
    torch.set_num_threads(1)
    photos = _photos(get_settings().data_dir, args.n)
    clf = Classifier.load(ASSETS_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        resnet = export_onnx(_resnet50(), Path(tmp) / "resnet50.onnx")  # type: ignore[arg-type]
        ours = _measure(ASSETS_DIR / MODEL_FILE, photos, clf.params, args.rounds)
        theirs = _measure(resnet, photos, clf.params, args.rounds)
    http = _http(photos, args.http_seconds) if args.http_seconds > 0 else None
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
        f"The HTTP overhead of `/v1/classify` is not included here. Load average (1 min) "
        f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (other jobs share the machine).",
    ])
    if http is not None:
        body += "\n".join([
            "", "", f"**Over HTTP** (`POST /v1/classify`, multipart, `ayni serve --workers {http['workers']:.0f}` on "
            f"SQLite, {http['clients']:.0f} Python client threads on the same 2 cores, {http['seconds']:.0f} s): "
            f"**{http['rate']:.1f} images/s** (target ≥ 60: **{'met' if http['rate'] >= 60 else 'not met'}**), "
            f"p50 {http['p50']:.1f} ms, p99 {http['p99']:.1f} ms, {http['n']:.0f} answered 200, "
            f"{http['errors']:.0f} other answers."])
    log.info("\n%s", body)
    if not args.no_write:
        write_section("classify", body, command="python -m benchmarks.classify")


if __name__ == "__main__":
    main()
