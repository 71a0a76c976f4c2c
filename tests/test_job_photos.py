"""A job's input photo in its row: binary on PostgreSQL, the ORM elsewhere;
runs on both through `make test`."""

import uuid

import pytest
from django.db import IntegrityError, transaction

from generation.jobs.photos import insert_with_photo, read_photo, write_photos
from generation.models import Job
from tests.service_helpers import make_account

pytestmark = pytest.mark.django_db(transaction=True)
EVERY_BYTE = bytes(range(256)) * 2048 + b"\x00\\x00'end"  # 512 KB, NULs, quotes, backslashes


def test_photos_round_trip_byte_for_byte_and_the_orm_leaves_them_alone():
    account, _ = make_account("photos", credits=0)
    first, second = (Job.objects.create(account=account, params={}) for _ in range(2))
    write_photos({first.pk: EVERY_BYTE, second.pk: b"\xff\xd8small"})
    assert read_photo(first.pk) == EVERY_BYTE
    assert read_photo(second.pk) == b"\xff\xd8small"
    loaded = Job.objects.get(pk=first.pk)
    assert "photo" in loaded.get_deferred_fields()  # lists and lookups never carry it
    assert bytes(loaded.photo) == EVERY_BYTE  # asked for, the ORM still reads it


def test_a_job_inserted_with_its_photo_is_stored_as_the_orm_would():
    account, _ = make_account("insert", credits=0)
    job = Job(account=account, params={"style": "anime", "n": [1, 2]}, idempotency_key="k-1")
    insert_with_photo(job, EVERY_BYTE)
    stored = Job.objects.get(pk=job.pk)
    assert (stored.account_id, stored.params, stored.idempotency_key, stored.state) == (
        account.pk,
        {"style": "anime", "n": [1, 2]},
        "k-1",
        "queued",
    )
    assert stored.created_at == job.created_at and stored.created_at is not None
    assert read_photo(job.pk) == EVERY_BYTE
    with pytest.raises(IntegrityError), transaction.atomic():  # Django's error, not the driver's
        insert_with_photo(Job(account=account, params={}, idempotency_key="k-1"), b"again")
    assert Job.objects.count() == 1


def test_no_photo_reads_as_none():
    account, _ = make_account("nophoto", credits=0)
    job = Job.objects.create(account=account, params={})
    assert read_photo(job.pk) is None
    assert read_photo(uuid.uuid4()) is None


def test_a_photo_written_in_a_rolled_back_transaction_is_gone():
    account, _ = make_account("rollback", credits=0)
    job = Job.objects.create(account=account, params={})
    with pytest.raises(RuntimeError), transaction.atomic():
        write_photos({job.pk: EVERY_BYTE})
        assert read_photo(job.pk) == EVERY_BYTE  # visible inside its transaction
        raise RuntimeError("refused")
    assert read_photo(job.pk) is None
