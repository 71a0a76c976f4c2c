"""`manage.py bench_service`: the generation service's throughput and HTTP overhead.

Starts PostgreSQL-backed daphne + runworker processes on loopback (see
bench/service_bench.py); prints figures, passes or fails nothing.
"""

from django.core.management.base import BaseCommand, CommandError

from bench import service_bench as sb


class Command(BaseCommand):
    help = (
        "Benchmark the generation service as deployed (PostgreSQL, Redis, daphne, runworkers): "
        "sustained avatars per minute with 1 and 2 workers, and the HTTP overhead of a "
        "waiting generate call."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--quick", action="store_true", help="fewer jobs and calls")
        parser.add_argument("--jobs", type=int, help="jobs per throughput run (40; quick 10)")
        parser.add_argument("--warmup", type=int, help="finishes not counted in the rate (8)")
        parser.add_argument("--calls", type=int, help="sequential calls for the overhead (30)")
        parser.add_argument("--workers", help="runworker counts to measure, e.g. 1,2 (default)")
        parser.add_argument(
            "--overhead-mode",
            choices=("worker", "embedded"),
            help="overhead through 1 runworker (default) or daphne's embedded worker",
        )
        parser.add_argument(
            "--redis-db",
            type=int,
            help="Redis db index, flushed first (default: a free one of 8-15)",
        )

    def handle(self, *args, **options) -> None:
        try:
            config = sb.config_from_options(
                quick=options["quick"],
                jobs=options["jobs"],
                warmup=options["warmup"],
                calls=options["calls"],
                workers=options["workers"],
                overhead_mode=options["overhead_mode"],
                redis_db=options["redis_db"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Generation service benchmark{' (quick)' if options['quick'] else ''}: "
            f"PostgreSQL {sb.postgres_url()}, Redis {sb.redis_url()}"
        )
        try:
            sb.run_bench(config, out=self.stdout.write)
        except sb.StackError as exc:
            raise CommandError(str(exc)) from exc
