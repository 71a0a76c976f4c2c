"""Seats count employees who received an avatar: a failed batch item gives its seat back."""

import pytest

from accounts.models import Seat
from generation.jobs import queue as jobs
from generation.jobs.batches import BatchItem, create_batch
from generation.jobs.worker import worker_name
from generation.models import Job
from tests.service_helpers import client_for, make_account, photo_b64, post_json
from tests.test_service_batches import wait_done

pytestmark = pytest.mark.django_db(transaction=True)
BATCH = "/v1/avatar/batch"
PARAMS = {"style": "corporate_headshot", "platform": "linkedin"}


def seated(account) -> set[str]:
    return set(Seat.objects.filter(account=account).values_list("employee", flat=True))


def test_failed_items_give_their_seats_back():
    """5 seats; 2 good photos and 3 that fail in the worker: the 3 seats come
    back, so the next batch of 3 new employees is accepted."""
    account, key = make_account("team", credits=0, seats=5)
    api = client_for(key)
    items = [
        {"external_id": "ana", "image_base64": photo_b64("obama2.jpg")},
        {"external_id": "ben", "image_base64": photo_b64("biden2.jpg")},
        {"external_id": "mug", "image_base64": photo_b64("coffee.png")},
        {"external_id": "meta", "image_url": "http://169.254.169.254/latest/photo.jpg"},
        {"external_id": "lan", "image_url": "http://10.0.0.1/photo.jpg"},
    ]
    first = post_json(api, BATCH, {"items": items})
    assert first.status_code == 202, first.content
    assert len(seated(account)) == 5
    status = wait_done(api, first.json()["id"])
    assert (status["done"], status["failed"]) == (2, 3)
    assert seated(account) == {"ana", "ben"}

    newcomers = [{"external_id": n, "image_base64": photo_b64()} for n in ("cleo", "dan", "eve")]
    second = post_json(api, BATCH, {"items": newcomers})
    assert second.status_code == 202, second.content
    assert seated(account) == {"ana", "ben", "cleo", "dan", "eve"}
    full = post_json(api, BATCH, {"items": [{"external_id": "fay", "image_base64": photo_b64()}]})
    assert full.status_code == 402 and full.json()["code"] == "insufficient_seats"
    wait_done(api, second.json()["id"])


def fail_next(code: str = "no_face") -> Job:
    claimed = jobs.claim(owner := worker_name())
    jobs.finish_failed(claimed.job, owner, code, "failed on purpose")
    return claimed.job


def test_a_seat_stays_with_an_employee_who_has_an_avatar_or_another_item_pending():
    account, _ = make_account("team", credits=0, seats=3)
    create_batch(account, PARAMS, [BatchItem("ana", photo=b"1"), BatchItem("ben", photo=b"2")])
    create_batch(account, PARAMS, [BatchItem("ben", photo=b"3")])  # no new seat
    assert seated(account) == {"ana", "ben"}

    ana = Job.objects.get(external_id="ana")
    Job.objects.filter(pk=ana.pk).update(state=Job.State.DONE)  # ana received her avatar
    create_batch(account, PARAMS, [BatchItem("ana", photo=b"4")])
    assert fail_next().external_id == "ben"  # ben's second item is still queued
    assert seated(account) == {"ana", "ben"}
    assert fail_next().external_id == "ben"  # his last one: the seat comes back
    assert fail_next().external_id == "ana"  # a failed regeneration keeps her seat
    assert seated(account) == {"ana"}


def test_credit_batches_take_no_seats_and_lose_none():
    account, _ = make_account("credits", credits=2)
    create_batch(account, PARAMS, [BatchItem("ana", photo=b"1")])
    fail_next()
    assert not Seat.objects.filter(account=account).exists()
