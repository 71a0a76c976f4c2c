"""Workers shared fairly between accounts: claim order, queue limits, and a
call that completes while another account's large batch is running."""

import time

import pytest

from accounts.credits import balance
from generation.jobs import queue as jobs
from generation.jobs.batches import BatchItem, create_batch
from generation.jobs.worker import worker_name
from generation.models import Batch, Job
from tests.service_helpers import client_for, make_account, photo_b64, post_json

pytestmark = pytest.mark.django_db(transaction=True)
GENERATE = "/v1/avatar/generate"
BATCH = "/v1/avatar/batch"
PARAMS = {"style": "corporate_headshot", "platform": "linkedin"}


def queue_batch(account, prefix: str, count: int) -> list[Job]:
    items = [BatchItem(f"{prefix}{n}", photo=b"photo") for n in range(count)]
    batch = create_batch(account, PARAMS, items)
    return list(batch.jobs.order_by("external_id"))


def claim_order(count: int) -> list[str]:
    """Who each of the next `count` claims went to: a call's account name, or
    a batch item's external_id."""
    order = []
    for _ in range(count):
        job = jobs.claim(worker_name()).job
        order.append(job.external_id or job.account.name)
    assert jobs.claim(worker_name()) is None
    return order


def test_accounts_take_turns_and_a_call_goes_before_batches_queued_earlier():
    """First come, first served let a 500-item batch hold every worker until it
    ended; now batches alternate and another account's call goes first."""
    a, _ = make_account("a", credits=10)
    c, _ = make_account("c", credits=10)
    b, _ = make_account("b", credits=10)
    queue_batch(a, "a", 4)
    queue_batch(c, "c", 2)
    jobs.enqueue(b, b"photo", PARAMS)
    assert claim_order(7) == ["b", "a0", "c0", "a1", "c1", "a2", "a3"]


def test_calls_of_a_busy_account_leave_room_for_another_account():
    a, _ = make_account("a", credits=10)
    b, _ = make_account("b", credits=10)
    for _ in range(3):
        jobs.enqueue(a, b"photo", PARAMS)
    jobs.enqueue(b, b"photo", PARAMS)
    assert claim_order(4) == ["a", "b", "a", "a"]


def test_an_account_that_emptied_its_queue_starts_afresh():
    """Ranks follow only what is still queued: a batch that ended long ago does
    not push a new one behind other accounts' work."""
    a, _ = make_account("a", credits=20)
    c, _ = make_account("c", credits=20)
    first = queue_batch(a, "old", 3)
    Job.objects.filter(pk__in=[job.pk for job in first]).update(state=Job.State.DONE)
    queue_batch(a, "a", 2)
    queue_batch(c, "c", 2)
    assert claim_order(4) == ["a0", "c0", "a1", "c1"]


def test_a_flow_is_ranked_among_the_kinds_its_workers_serve():
    """A queued training run (its own worker channel) does not push the
    account's portrait calls back, nor do those calls push its next run."""
    a, _ = make_account("a", credits=10)
    training = jobs.fair_ranks(a, 1, batch=False, kind=Job.Kind.TRAINING)[0]
    Job.objects.create(account=a, kind=Job.Kind.TRAINING, queue_rank=training)
    call = jobs.enqueue(a, b"photo", PARAMS)
    assert call.queue_rank - training < 1.0  # not a spacing (60 s) later
    later = jobs.fair_ranks(a, 1, batch=False, kind=Job.Kind.TRAINING)[0]
    assert later - training >= jobs.RANK_SPACING_SECONDS


def test_a_queued_batch_does_not_make_calls_429_and_batches_have_their_own_limit(settings):
    """Batch items count against MAX_BATCH_QUEUE_DEPTH, not the calls' limit;
    one account may hold at most half of it."""
    settings.EMBEDDED_WORKER = False  # nothing leaves the queue while it is measured
    settings.MAX_QUEUE_DEPTH = 2
    settings.MAX_BATCH_QUEUE_DEPTH = 8
    a, a_key = make_account("a", credits=20)
    b, b_key = make_account("b", credits=5)
    queue_batch(a, "a", 4)  # more than MAX_QUEUE_DEPTH, all of A's share
    settings.GENERATE_WAIT_SECONDS = 0
    call = post_json(client_for(b_key), GENERATE, {"image_base64": photo_b64()})
    assert call.status_code == 202, call.content

    one = [{"external_id": "n0", "image_base64": photo_b64()}]
    refused = post_json(client_for(a_key), BATCH, {"items": one})  # over A's share
    assert refused.status_code == 429 and refused.json()["code"] == "queue_full"
    assert int(refused["Retry-After"]) > 0
    assert Batch.objects.count() == 1 and balance(a) == 16  # nothing stored or charged
    three = [{"external_id": f"n{n}", "image_base64": photo_b64()} for n in range(3)]
    assert post_json(client_for(b_key), BATCH, {"items": three}).status_code == 202
    _, c_key = make_account("c", credits=5)
    two = three[:2]
    full = post_json(client_for(c_key), BATCH, {"items": two})  # 7 queued, 9 > 8 in all
    assert full.status_code == 429 and full.json()["code"] == "queue_full"
    assert post_json(client_for(c_key), BATCH, {"items": one}).status_code == 202  # 8: room
    assert Batch.objects.count() == 3 and balance(b) == 1


def test_a_call_completes_while_another_accounts_large_batch_is_running(settings):
    """The real embedded worker and pipeline: account A's batch is running when
    account B's generate call arrives; B's avatar is done long before A's batch."""
    size = 12
    _, a_key = make_account("a", credits=size)
    b, b_key = make_account("b", credits=1)
    photo = photo_b64("obama2.jpg")
    items = [{"external_id": f"emp{n:02d}", "image_base64": photo} for n in range(size)]
    accepted = post_json(client_for(a_key), BATCH, {"style": "editorial", "items": items})
    assert accepted.status_code == 202, accepted.content
    batch = Batch.objects.get(pk=accepted.json()["id"])
    deadline = time.monotonic() + 120
    while not batch.jobs.filter(state=Job.State.DONE).exists():  # the worker is warm
        assert time.monotonic() < deadline, "the batch never started"
        time.sleep(0.2)

    settings.GENERATE_WAIT_SECONDS = 120
    body = {"image_base64": photo_b64("biden2.jpg"), "style": "anime"}
    call = post_json(client_for(b_key), GENERATE, body)
    assert call.status_code == 200, call.content
    assert call.json()["state"] == "done" and balance(b) == 0
    unfinished = batch.jobs.exclude(state__in=[Job.State.DONE, Job.State.FAILED]).count()
    assert unfinished >= size // 2, f"B waited for {size - unfinished} of A's {size} items"


@pytest.mark.slow
def test_deployed_a_500_item_batch_leaves_room_for_another_accounts_call():
    """The deployed shape (PostgreSQL, Redis, daphne, a runworker): account A
    sends a 500-item batch (photos by URL, fetched by the worker), then
    account B a generate call with MAX_QUEUE_DEPTH at 5. B was answered 429
    for about 50 s and then waited behind the batch; now B is accepted and
    its avatar is done while nearly all of A's batch is still queued."""
    from bench import service_bench as sb
    from tests.intake.test_fetch import LocalServer
    from tests.service_helpers import require_services

    require_services(sb.unreachable_services())
    photos = LocalServer()
    photos.start()
    allowed = f"127.0.0.1:{photos.port}"
    try:
        with sb.ServiceStack(credits=600, max_queue_depth=5, generate_wait=90) as stack:
            stack.start_server()
            stack.start_worker(FETCH_ALLOWED_HOSTS=allowed)
            stack.wait_workers_ready()
            b_key = stack.manage("create_account", "b", "--credits", "1").split()[-1]
            items = [
                {"external_id": f"emp{n:03d}", "image_url": f"http://{allowed}/photo.jpg"}
                for n in range(500)
            ]
            batch = stack.client().request("POST", BATCH, {"style": "editorial", "items": items})
            assert batch.status == 202, batch.data
            deadline = time.monotonic() + 120
            while not stack.query("SELECT 1 FROM generation_job WHERE state = 'done' LIMIT 1"):
                assert time.monotonic() < deadline, "the batch never started"
                stack.check_alive()
                time.sleep(0.2)

            b = sb.Client(stack.port, b_key).generate(sb.photo_payloads(1)[0])
            assert b.status == 200 and b.data["state"] == "done", b.data
            ((finished,),) = stack.query(
                "SELECT count(*) FROM generation_job WHERE batch_id = %s "
                "AND state IN ('done', 'failed')",
                (batch.data["id"],),
            )
            assert finished <= 10, f"B waited for {finished} of A's items"
    finally:
        photos.stop()
