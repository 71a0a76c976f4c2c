"""`manage.py bench_identity`: figures for the shipped identity styles, against targets.

Prints tables; it passes or fails nothing. The measuring lives in
bench/identity_bench.py.
"""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from bench import identity_bench as ib

QUICK = {"ids": 1000, "dicebear_ids": 300, "svgs": 1000, "pngs": 100, "requests": 100}
FULL = {"ids": 10000, "dicebear_ids": 2000, "svgs": 5000, "pngs": 1000, "requests": 500}
W = 28  # the style column: DiceBear's slugs are up to 27 characters


def _ok(ok: bool) -> str:
    return "OK" if ok else "MISS"


class Command(BaseCommand):
    help = (
        "Benchmark the shipped identity styles: distinctness of consecutive ids, "
        "SVG/PNG render speed, and served latency through daphne on loopback."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--ids", type=int, help="ids per own style for distinctness (10000)")
        parser.add_argument(
            "--dicebear-ids", type=int, help="ids per DiceBear style for distinctness (2000)"
        )
        parser.add_argument(
            "--styles",
            help="comma-separated style slugs, DiceBear's as dicebear-NAME (default: all 71)",
        )
        parser.add_argument("--svgs", type=int, help="SVG renders per style for speed (5000)")
        parser.add_argument("--pngs", type=int, help="256 px PNGs per style for speed (1000)")
        parser.add_argument("--requests", type=int, help="GETs per latency figure (500)")
        parser.add_argument("--quick", action="store_true", help="fewer ids and iterations")
        parser.add_argument("--examples", type=int, default=5, help="closest pairs to show")
        parser.add_argument(
            "--pairs-dir", help="write the worst style's closest pairs as PNGs to this folder"
        )
        parser.add_argument("--skip-serve", action="store_true", help="skip the daphne latency")

    def handle(self, *args, **options) -> None:
        sizes = QUICK if options["quick"] else FULL
        ids, dicebear_ids, svgs, pngs, requests = (
            options[name] or sizes[name]
            for name in ("ids", "dicebear_ids", "svgs", "pngs", "requests")
        )
        if ids < 2 or dicebear_ids < 2:
            raise CommandError("--ids and --dicebear-ids must be at least 2")
        options["dicebear_ids"] = dicebear_ids
        shipped = ib.all_style_slugs()
        slugs = shipped
        if options["styles"]:
            slugs = [s.strip() for s in options["styles"].split(",") if s.strip()]
            unknown = sorted(set(slugs) - set(shipped))
            if unknown:
                raise CommandError(f"unknown styles: {', '.join(unknown)}; shipped: {shipped}")
        styles = {slug: ib.bench_style(slug) for slug in slugs}

        started = time.perf_counter()
        summary: list[tuple[str, str, str, str, str]] = []
        out = self.stdout.write
        out(
            f"Identity avatar benchmark: {len(slugs)} style(s), {ids} ids, "
            f"secret {ib.BENCH_SECRET!r}{' (quick)' if options['quick'] else ''}"
        )

        self._distinctness(styles, ids, options, summary)
        self._speed(styles, svgs, pngs, summary)
        if not options["skip_serve"]:
            self._served(requests, summary)

        out("")
        out("Summary")
        out(f"{'figure':<22} {'style':<{W}} {'value':>16}  {'target':<14} result")
        for row in summary:
            out(f"{row[0]:<22} {row[1]:<{W}} {row[2]:>16}  {row[3]:<14} {row[4]}")
        labels = ("OK", "MISS", "EXEMPT", "INFO")
        counts = {r: sum(1 for row in summary if row[4] == r) for r in labels}
        out(
            f"{counts['OK']} OK, {counts['MISS']} MISS, {counts['EXEMPT']} exempt, "
            f"{counts['INFO']} DiceBear figures for comparison "
            f"({time.perf_counter() - started:.0f} s)"
        )

    def _distinctness(self, styles, ids, options, summary) -> None:
        out = self.stdout.write
        pairs = ids * (ids - 1) // 2
        out("")
        out(
            f"1. Distinctness: user-0..user-{ids - 1}, {ib.THUMB_RENDER_SIZE} px PNG -> "
            f"{ib.THUMB_SIZE}x{ib.THUMB_SIZE} RGB (box), close = RMS < {ib.RMS_THRESHOLD}, "
            f"{pairs:,} pairs (DiceBear's styles: {options['dicebear_ids']} ids, keyed seeds)"
        )
        out(
            f"{'style':<{W}} {'close':>8} {'per M':>9} {'min RMS':>8} "
            f"{'secs':>6}  {'target':<14} result"
        )
        results: list[ib.Distinctness] = []
        for slug, style in styles.items():
            count = ids if style.source == "own" else options["dicebear_ids"]
            r = ib.distinctness(slug, style, count, keep=options["examples"])
            results.append(r)
            result = "EXEMPT" if r.exempt else _ok(r.ok)
            if style.source == "dicebear":
                result = "INFO"
            shown = f"{result} ({_ok(r.ok)})" if result == "EXEMPT" else result
            nearest = f"{r.closest[0].rms:.4f}" if r.closest else "-"
            target = f"<= {ib.DISTINCT_TARGET_PER_MILLION:g}/M ({r.allowed})"
            out(
                f"{slug:<{W}} {r.close:>8} {r.per_million:>9.2f} {nearest:>8} "
                f"{r.seconds:>6.1f}  {target:<14} {shown}"
            )
            summary.append(
                ("distinct close pairs", slug, f"{r.close} ({r.per_million:.2f}/M)", target, result)
            )
        ranked = [r for r in results if not r.style.startswith("dicebear-")] or results
        ranked = [r for r in ranked if not r.exempt] or ranked
        worst = max(ranked, key=lambda r: (r.close, -(r.closest[0].rms if r.closest else 1.0)))
        out(f"Closest pairs in the worst style ({worst.style}, {worst.close} close):")
        for pair in worst.closest:
            out(f"  {pair.a:<12} {pair.b:<12} rms {pair.rms:.4f}")
        if options["pairs_dir"]:
            folder = Path(options["pairs_dir"])
            folder.mkdir(parents=True, exist_ok=True)
            for n, pair in enumerate(worst.closest):
                path = folder / f"{worst.style}-{n}-{pair.a}-{pair.b}.png"
                ib.pair_image(styles[worst.style], pair).save(path)
            out(f"  (written to {folder})")

    def _speed(self, styles, svgs, pngs, summary) -> None:
        out = self.stdout.write
        out("")
        out(
            f"2. Speed, one process: {svgs} SVGs (seed + render) and {pngs} PNGs "
            f"(+ rasterise at {ib.PNG_SPEED_SIZE} px; sequential, and {ib.PNG_THREADS} threads "
            "in this process) per style, after a warm-up"
        )
        svg_target = f">= {ib.SVG_TARGET_PER_S:,.0f}/s"
        png_target = f">= {ib.PNG_TARGET_PER_S:,.0f}/s"
        out(
            f"{'style':<{W}} {'SVG/s':>9} {'core/s':>8}  {'target':<13} {'result':<6} "
            f"{'PNG/s':>7} {'2 thr':>7}  {'target':<9} {'result':<6} {'raster ms':>9}"
        )
        for slug, style in styles.items():
            s = ib.speed(slug, style, svgs, pngs)
            core = f"{s.core_svg_per_s:,.0f}" if s.core_svg_per_s else "-"
            # The PNG target is the own styles'; DiceBear's drawings are heavier
            # and served from the cache after the first request.
            png_result = _ok(s.png_ok) if s.core_svg_per_s is None else "INFO"
            target = svg_target if s.core_svg_per_s is None else "~ core alone"
            out(
                f"{slug:<{W}} {s.svg_per_s:>9,.0f} {core:>8}  {target:<13} {_ok(s.svg_ok):<6} "
                f"{s.png_per_s:>7,.0f} {s.png_threads_per_s:>7,.0f}  {png_target:<9} "
                f"{png_result:<6} {s.raster_ms:>9.2f}"
            )
            summary.append(
                ("SVG/s (core alone)", slug, f"{s.svg_per_s:,.0f} ({core})", target, _ok(s.svg_ok)),
            )
            summary.append(
                (
                    "PNG/s (256 px, 1 process)",
                    slug,
                    f"{s.png_per_s:,.0f} / {s.png_threads_per_s:,.0f} (1/2 thr)",
                    png_target,
                    png_result,
                ),
            )

    def _served(self, requests, summary) -> None:
        out = self.stdout.write
        out("")
        out(f"3. Served latency: daphne on 127.0.0.1, {requests} sequential keep-alive GETs")
        for path in ib.SERVED_PATHS:
            try:
                served = ib.served_latency(requests, path)
            except ib.ServerError as error:
                out(f"FAILED: {error}")
                summary.append(("served p50", path, "failed", "", "MISS"))
                continue
            out(f"URL http://127.0.0.1:{served.port}{served.path} (warmed, ETag {served.etag})")
            target = f"p50 < {ib.LATENCY_P50_TARGET_MS:g} ms"
            style = served.path.split("/")[2 if served.path.startswith("/10.x/") else 3]
            out(
                f"{'request':<26} {'statuses':<10} {'conns':>5} {'p50 ms':>7} {'p95 ms':>7} "
                f"{'p99 ms':>7}  {'target':<12} result"
            )
            for lat in served.results:
                statuses = ",".join(f"{code}x{n}" for code, n in sorted(lat.statuses.items()))
                out(
                    f"{lat.label:<26} {statuses:<10} {lat.connections:>5} {lat.p50:>7.2f} "
                    f"{lat.p95:>7.2f} {lat.p99:>7.2f}  {target:<12} {_ok(lat.ok)}"
                )
                figure = f"served p50 ({lat.expected})"
                summary.append((figure, style, f"{lat.p50:.2f} ms", target, _ok(lat.ok)))
