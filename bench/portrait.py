"""Benchmark the portrait pipeline on the clean fixture portraits.

    .venv/bin/python bench/portrait.py [--repeat 5] [--size 800]

Prints, per style: p50/p95 of every stage and of the whole pipeline (checks
included), likeness and warnings per fixture, and the process's peak RSS.
Every request has its own id, so its own seed: the background is drawn per
request, as in service. Run it on an otherwise idle machine: the figures are
wall-clock, and the load average is printed beside them; the CPU time per
request (all threads) is printed too, as a busy machine inflates it far less.
Side work is timed only where the request waits for it: the unstyled face's
descriptor (``embed_input``) runs beside segmentation and the avatar's encoding
(``save``) beside the checks.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generation.management.commands.portrait_contact_sheet import (  # noqa: E402
    DEFAULT_PHOTOS as CLEAN_PORTRAITS,
)
from generation.management.commands.portrait_contact_sheet import STYLE_PLATFORMS  # noqa: E402
from generation.portrait.background import parse_palette  # noqa: E402
from generation.portrait.pipeline import AvatarRequest, PortraitPipeline  # noqa: E402
from generation.portrait.styles import STYLES  # noqa: E402

PHOTOS = ROOT / "tests" / "fixtures" / "photos"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(int(round(q * (len(ordered) - 1))), len(ordered) - 1)
    return ordered[index]


def background_ms(style: str, size: int) -> float:
    """What drawing the style's background costs."""
    recipe = STYLES[style]
    palette = parse_palette(recipe.palette)
    start = time.perf_counter()
    recipe.background(size, palette, np.random.default_rng(0))
    return (time.perf_counter() - start) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per photo and style")
    parser.add_argument("--size", type=int, default=800, help="output side in px")
    args = parser.parse_args()

    pipeline = PortraitPipeline()
    photos = {name: (PHOTOS / name).read_bytes() for name in CLEAN_PORTRAITS}
    start = time.perf_counter()
    pipeline.generate(photos[CLEAN_PORTRAITS[0]], AvatarRequest(size=args.size))
    print(f"cold start (model loading + first avatar): {time.perf_counter() - start:.2f} s")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")

    for style, platform in STYLE_PLATFORMS:
        totals: list[float] = []
        cpu: list[float] = []
        stages: dict[str, list[float]] = defaultdict(list)
        rows = []
        for name, data in photos.items():
            for i in range(args.repeat):
                request = AvatarRequest(
                    style=style, platform=platform, size=args.size, request_id=f"{name}-{i}"
                )
                before = time.process_time()
                result = pipeline.generate(data, request)
                cpu.append((time.process_time() - before) * 1000.0)
                totals.append(result.latency_ms)
                for stage, ms in result.stage_ms.items():
                    stages[stage].append(ms)
            rows.append((name, result.likeness_score, result.attempts, result.validation_warnings))

        print(
            f"== {style} on {platform} ({args.size}x{args.size}, n={len(totals)}, "
            f"load average {os.getloadavg()[0]:.1f})"
        )
        print(f"   {'stage':<14} {'p50 ms':>8} {'p95 ms':>8}")
        for stage, values in stages.items():
            print(f"   {stage:<14} {percentile(values, 0.5):8.1f} {percentile(values, 0.95):8.1f}")
        print(f"   {'TOTAL':<14} {statistics.median(totals):8.1f} {percentile(totals, 0.95):8.1f}")
        # CPU time (all threads) is what a busy machine cannot inflate the way it
        # inflates wall-clock; on an idle machine the wall-clock p50 is at most this.
        print(f"   {'CPU time':<14} {statistics.median(cpu):8.1f} {percentile(cpu, 0.95):8.1f}")
        drawn = background_ms(style, args.size)
        print(f"   (background: drawn per request from its seed, {drawn:.0f} ms)")
        print(f"   {'photo':<24} {'likeness':>8} {'attempts':>8}  warnings")
        for name, score, attempts, warnings in rows:
            print(f"   {name:<24} {score:8.3f} {attempts:8d}  {', '.join(warnings) or '-'}")
        print()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB")
    print("load average (1, 5, 15 min): " + ", ".join(f"{v:.1f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
