"""Time the content-safety classifiers per image on the fixture photos.

    .venv/bin/python bench/safety.py [--repeat 10]

Prints, per classifier (NudeNet only when its extra is installed): the model's load time,
p50 and p95 per image over every fixture photo as decoded, and its verdict per photo.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generation.portrait.load import load_photo  # noqa: E402
from generation.portrait.safety import CLASSIFIERS  # noqa: E402

PHOTOS = ROOT / "tests" / "fixtures" / "photos"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs per photo")
    args = parser.parse_args()
    images = {
        p.name: load_photo(p.read_bytes())
        for p in sorted(PHOTOS.iterdir())
        if p.suffix.lower() in (".jpg", ".png")
    }
    for name, make in CLASSIFIERS.items():
        classifier = make()
        start = time.perf_counter()
        try:
            classifier.check(next(iter(images.values())))
        except ImportError:
            print(f"== {name}: not installed\n")
            continue
        print(f"== {name}: first image (loads the model) {time.perf_counter() - start:.2f} s")
        times, verdicts = [], {}
        for photo, image in images.items():
            for _ in range(args.repeat):
                start = time.perf_counter()
                verdict = classifier.check(image)
                times.append((time.perf_counter() - start) * 1000.0)
            verdicts[photo] = verdict
        ordered = sorted(times)
        p95 = ordered[min(int(0.95 * len(ordered)), len(ordered) - 1)]
        print(f"   per image: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms "
              f"(n={len(times)}, photos {min(i.shape[0] for i in images.values())}-"
              f"{max(i.shape[0] for i in images.values())} px tall)")  # fmt: skip
        unsafe = [p for p, v in verdicts.items() if not v.safe]
        print(f"   refused: {', '.join(unsafe) or 'none'} of {len(verdicts)} fixture photos\n")


if __name__ == "__main__":
    main()
