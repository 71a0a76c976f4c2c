"""Subject models and custom styles through the API: real embedded workers
(training on its own thread), the real CPU engine, the real ledger, storage
and database inspected afterwards."""

import base64
import io
import threading
import time
import zipfile
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone
from PIL import Image, ImageEnhance, ImageOps

from accounts.credits import balance
from generation.jobs.retention import purge_expired
from generation.models import CustomStyle, Job, SubjectModel
from tests.service_helpers import (
    PHOTOS,
    client_for,
    make_account,
    post_json,
    shared_database_url,
)

pytestmark = pytest.mark.django_db(transaction=True)
MODELS = "/v1/models"
TRAINING_PRICE = 20
PERSON = ("obama.jpg", "obama2.jpg", "obama3.jpg")


@pytest.fixture(autouse=True)
def prices(settings):
    settings.SUBJECT_TRAINING_CREDITS = TRAINING_PRICE
    settings.INFERENCE_IMAGE_CREDITS = 1
    settings.STYLE_TRAINING_CREDITS = 30


@pytest.fixture
def acme():
    account, key = make_account(credits=100)
    return account, client_for(key)


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def variants(names: tuple[str, ...], count: int) -> list[bytes]:
    """`count` distinct photos of the people in `names`: each photo, mirrored, brighter."""
    images = [Image.open(PHOTOS / name) for name in names]
    made = [
        jpeg(step(image))
        for step in (
            lambda i: i,
            ImageOps.mirror,
            lambda i: ImageEnhance.Brightness(i).enhance(1.15),
            lambda i: ImageOps.mirror(ImageEnhance.Brightness(i).enhance(0.9)),
        )
        for image in images
    ]
    assert len(made) >= count
    return made[:count]


def b64(photos: list[bytes]) -> list[str]:
    return [base64.b64encode(photo).decode() for photo in photos]


def nothing_stored(account) -> bool:
    return (
        not SubjectModel.objects.exists()
        and not Job.objects.exists()
        and balance(account) == 100
        and not default_storage.exists("custom-models")
    )


def wait_until_finished(api, url: str, timeout: float = 90.0) -> tuple[dict, list[str]]:
    """Poll a status URL until it ends; the final body and every status seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(url).json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] not in ("ACCEPTED", "IN_PROGRESS"):
            return body, seen
        time.sleep(0.05)
    raise AssertionError(f"{url} still {seen[-1]} after {timeout} s")


# ---- checks answered at once: 422 IMAGE_NOT_VALID, nothing stored or charged


@pytest.mark.parametrize(
    ("count", "code"), [(3, "too_few"), (31, "too_many")], ids=["too-few", "too-many"]
)
def test_a_set_of_the_wrong_size_is_refused_with_nothing_charged(acme, count, code):
    account, api = acme
    small = jpeg(Image.open(PHOTOS / "obama2.jpg").resize((320, 320)))
    response = post_json(api, MODELS, {"type": "man", "images_base64": b64([small] * count)})
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "IMAGE_NOT_VALID"
    assert [(p["index"], p["code"]) for p in body["problems"]] == [(-1, code)]
    assert nothing_stored(account)


def test_a_broken_photo_is_named_by_its_position(acme):
    account, api = acme
    photos = b64(variants(PERSON, 6))
    photos[2] = base64.b64encode(b"\x00\x01 not a photo at all").decode()
    photos[4] = "%%% not base64 %%%"
    response = post_json(api, MODELS, {"type": "woman", "images_base64": photos})
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert [(p["index"], p["code"]) for p in problems] == [(2, "not_an_image"), (4, "not_an_image")]
    assert nothing_stored(account)


def test_oversized_photos_and_bodies_are_refused(acme):
    account, api = acme
    photos = b64(variants(PERSON, 5))
    huge = io.BytesIO()
    Image.new("RGB", (8000, 6000), "#808080").save(huge, "PNG")  # 48 MP in a small file
    photos[1] = base64.b64encode(huge.getvalue()).decode()
    response = post_json(api, MODELS, {"type": "man", "images_base64": photos})
    assert response.status_code == 422
    assert [(p["index"], p["code"]) for p in response.json()["problems"]] == [(1, "not_an_image")]
    too_big = ["A" * (8 * 1024 * 1024)] * 5  # 40 MiB of base64: over the body limit
    response = post_json(api, MODELS, {"type": "man", "images_base64": too_big})
    assert (response.status_code, response.json()["code"]) == (413, "request_too_large")
    assert nothing_stored(account)


def test_malformed_calls_get_a_stable_code_and_store_nothing(acme):
    account, api = acme
    photos = b64(variants(PERSON, 5))
    cases = [
        ({"type": "robot", "images_base64": photos}, 400, "invalid_type"),
        ({"type": "man"}, 400, "missing_images"),
        ({"type": "man", "images_base64": photos, "image_urls": ["http://x/a.jpg"]}, 400,
         "missing_images"),
        ({"type": "man", "images_base64": photos, "engine": "diffusion"}, 400,
         "engine_unavailable"),
        ({"type": "man", "images_base64": "not a list"}, 422, "invalid_request"),
    ]  # fmt: skip
    for body, status, code in cases:
        response = post_json(api, MODELS, body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    response = api.post(
        MODELS, b'{"type": "man", "images_base64": [', content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
    response = api.post(MODELS, b"\x00" * 64, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_characters")
    assert nothing_stored(account)


def zip_of(entries: dict[str, bytes], **info) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name, **info) if info else name, data)
    return out.getvalue()


def upload(api, url: str, data: bytes, **fields):
    archive = io.BytesIO(data)
    archive.name = "photos.zip"
    return api.post(url, {"archive": archive, **fields})


def test_hostile_archives_are_refused_before_anything_is_stored(acme):
    account, api = acme
    photos = variants(PERSON, 5)
    named = {f"{n}.jpg": photo for n, photo in enumerate(photos)}
    traversal = zip_of({"../../etc/evil.jpg": photos[0], **named})
    response = upload(api, MODELS, traversal, type="man")
    assert (response.status_code, response.json()["code"]) == (400, "unsafe_archive_path")
    bomb = zip_of({f"{n}.jpg": b"\0" * (12 * 1024 * 1024) for n in range(5)})
    response = upload(api, MODELS, bomb, type="man")
    assert (response.status_code, response.json()["code"]) == (413, "archive_too_large")
    nested = zip_of({**named, "more.zip": b"PK\x03\x04"})
    response = upload(api, MODELS, nested, type="man")
    assert (response.status_code, response.json()["code"]) == (400, "nested_archive")
    response = upload(api, MODELS, b"this is no zip", type="man")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_archive")
    too_many = zip_of({f"{n:02}.jpg": photos[n % 5] for n in range(31)})
    response = upload(api, MODELS, too_many, type="man")
    assert response.status_code == 422 and response.json()["problems"][0]["code"] == "too_many"
    assert nothing_stored(account)


# ---- checks of the set as a whole, in the training job: status IMAGE_NOT_VALID


@pytest.mark.parametrize(
    ("kind", "photos", "expected"),
    [
        ("man", lambda: variants(PERSON, 5) + variants(("biden.jpg",), 1),
         [(5, "different_person")]),
        ("cat", lambda: [jpeg(Image.open(PHOTOS / "chelsea.png"))] * 4 + variants(PERSON, 1),
         [(4, "no_cat_face")]),
    ],
    ids=["different-person", "no-cat-face"],
)  # fmt: skip
def test_a_set_failing_its_check_ends_image_not_valid_uncharged_and_forgotten(
    acme, kind, photos, expected
):
    account, api = acme
    response = post_json(api, MODELS, {"type": kind, "images_base64": b64(photos())})
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "ACCEPTED"
    model_id = response.json()["model_id"]
    assert balance(account) == 100 - TRAINING_PRICE  # held while it trains
    body, _ = wait_until_finished(api, f"{MODELS}/{model_id}")
    assert body["status"] == "IMAGE_NOT_VALID"
    assert [(p["index"], p["code"]) for p in body["problems"]] == expected
    assert balance(account) == 100  # nothing charged
    assert Job.objects.get().photo is None  # the references are gone
    assert not default_storage.exists("custom-models")


# ---- the whole flow on the CPU engine


class PhotoServer(BaseHTTPRequestHandler):
    photos: dict[str, bytes] = {}

    def do_GET(self) -> None:
        data = self.photos.get(self.path)
        self.send_response(200 if data else 404)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(data or b"")))
        self.end_headers()
        self.wfile.write(data or b"")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def photo_server(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), PhotoServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_port}"
    settings.FETCH_ALLOWED_HOSTS = frozenset({host})
    yield f"http://{host}"
    server.shutdown()


def database_text() -> str:
    """Every row of every table, as text (to search for traces of the photos)."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


def stored_files(folder: str = "") -> list[str]:
    if not default_storage.exists(folder or "."):
        return []
    dirs, files = default_storage.listdir(folder or ".")
    found = [f"{folder}/{name}".lstrip("/") for name in files]
    for sub in dirs:
        found += stored_files(f"{folder}/{sub}".lstrip("/"))
    return found


def test_train_by_url_then_infer_on_the_cpu_engine(acme, photo_server, client, caplog):
    account, api = acme
    photos = variants(PERSON, 6)
    PhotoServer.photos = {f"/private/ref-{n}-secret.jpg": photo for n, photo in enumerate(photos)}
    urls = [f"{photo_server}{path}" for path in PhotoServer.photos]
    caplog.set_level("DEBUG")

    response = post_json(api, MODELS, {"type": "man", "image_urls": urls})
    assert response.status_code == 202, response.content
    accepted = response.json()
    assert accepted["status"] == "ACCEPTED" and accepted["engine"] == "cpu"
    model_id = accepted["model_id"]
    body, seen = wait_until_finished(api, f"{MODELS}/{model_id}")
    assert body["status"] == "DONE", body
    assert seen[-1] == "DONE" and set(seen) <= {"ACCEPTED", "IN_PROGRESS", "DONE"}
    assert body["progress"] == 1.0 and body["engine"] == "cpu" and body["type"] == "man"
    assert balance(account) == 100 - TRAINING_PRICE

    # the references are gone, and nothing says which photos or URLs trained the model
    job = Job.objects.get(kind=Job.Kind.TRAINING)
    assert job.photo is None and job.charged
    assert stored_files() == [f"custom-models/{model_id}-1.zip"]
    traces = database_text() + "\n".join(r.getMessage() for r in caplog.records)
    assert "secret" not in traces and "/private/" not in traces
    assert photo_server.split("//")[1] not in traces

    request = {"prompt": "a neon portrait riding a dragon", "count": 2, "seed": 7}
    response = post_json(api, f"{MODELS}/{model_id}/inferences", {"requests": [request]})
    assert response.status_code == 202, response.content
    inference_id = response.json()["inference_id"]
    url = f"{MODELS}/{model_id}/inferences/{inference_id}"
    result, _ = wait_until_finished(api, url)
    assert result["status"] == "DONE", result
    assert len(result["avatars"]) == 2
    for avatar in result["avatars"]:
        assert avatar["engine"] == "cpu" and avatar["likeness_score"] > 0.8
        image = Image.open(io.BytesIO(client.get(avatar["url"]).getvalue()))
        assert image.format == "PNG" and image.width >= 512
    assert any("dragon" in term for term in result["ignored_prompt_terms"])
    assert not any("neon" in term for term in result["ignored_prompt_terms"])
    expires = timezone.datetime.fromisoformat(result["expires_at"])
    assert abs(expires - (timezone.now() + timedelta(hours=48))) < timedelta(minutes=2)
    assert balance(account) == 100 - TRAINING_PRICE - 2

    # 48 hours later the purge deletes the images; the answer says they expired
    assert purge_expired()["inferences"] == 0
    files = [a["file"] for a in Job.objects.get(pk=inference_id).result["avatars"]]
    assert all(default_storage.exists(name) for name in files)
    later = timezone.now() + timedelta(hours=48, minutes=1)
    original_now = timezone.now
    timezone.now = lambda: later
    try:
        assert purge_expired()["inferences"] == 1
    finally:
        timezone.now = original_now
    assert not any(default_storage.exists(name) for name in files)
    gone = api.get(url).json()
    assert gone["status"] == "DONE" and gone["avatars"] == [] and gone["expired"] is True
    assert client.get(result["avatars"][0]["url"]).status_code == 404


def test_models_and_inferences_are_private_to_their_account(acme):
    account, api = acme
    response = post_json(api, MODELS, {"type": "man", "images_base64": b64(variants(PERSON, 5))})
    model_id = response.json()["model_id"]
    body, _ = wait_until_finished(api, f"{MODELS}/{model_id}")
    assert body["status"] == "DONE"
    inference = post_json(
        api, f"{MODELS}/{model_id}/inferences", {"requests": [{"prompt": "studio portrait"}]}
    ).json()["inference_id"]

    other_account, other_key = make_account("other", credits=100)
    other = client_for(other_key)
    assert other.get(f"{MODELS}/{model_id}").status_code == 404
    assert other.get(f"{MODELS}/{model_id}/inferences/{inference}").status_code == 404
    response = post_json(other, f"{MODELS}/{model_id}/inferences", {"requests": [{"prompt": "x"}]})
    assert response.status_code == 404
    assert api.get(f"{MODELS}/not-a-uuid").status_code == 404
    assert balance(other_account) == 100

    # another account's style token is unknown here, even when it exists
    CustomStyle.objects.create(account=other_account, name="theirs", engine="cpu", status="DONE")
    token = CustomStyle.objects.get().style_token
    response = post_json(
        api, f"{MODELS}/{model_id}/inferences", {"requests": [{"prompt": "x", "style": token}]}
    )
    assert (response.status_code, response.json()["code"]) == (400, "unknown_style")

    # deleting the account takes its model and the images drawn from it
    wait_until_finished(api, f"{MODELS}/{model_id}/inferences/{inference}")
    assert len(stored_files()) == 2  # the model and one image
    account.delete()
    assert stored_files() == [] and not SubjectModel.objects.exists()


def test_inference_requests_are_validated_before_anything_is_charged(acme):
    account, api = acme
    model = SubjectModel.objects.create(account=account, subject_type="man", engine="cpu")
    url = f"{MODELS}/{model.pk}/inferences"
    ok = {"prompt": "a portrait"}
    cases = [
        ({"requests": [ok]}, 409, "model_not_ready"),
        ({"requests": []}, 400, "invalid_requests"),
        ({"requests": [{**ok, "count": 9}]}, 400, "invalid_count"),
        ({"requests": [{**ok, "count": 0}]}, 400, "invalid_count"),
        ({"requests": [{"prompt": "bad\x00prompt"}]}, 400, "invalid_characters"),
        ({"requests": [{"prompt": "x" * 1001}]}, 400, "invalid_prompt"),
        ({"requests": [{"prompt": "  "}]}, 400, "invalid_prompt"),
        ({"requests": [{**ok, "seed": -1}]}, 400, "invalid_seed"),
        ({"requests": [{**ok, "style": "no-such-style"}]}, 400, "unknown_style"),
        ({"requests": "nope"}, 422, "invalid_request"),
    ]
    SubjectModel.objects.filter(pk=model.pk).update(status="IN_PROGRESS")
    for body, status, code in cases:
        if code != "model_not_ready":
            SubjectModel.objects.filter(pk=model.pk).update(status="DONE")
        response = post_json(api, url, body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    assert not Job.objects.exists() and balance(account) == 100


def test_training_without_credit_is_refused(acme):
    account, key = make_account("poor", credits=TRAINING_PRICE - 1)
    response = post_json(
        client_for(key), MODELS, {"type": "man", "images_base64": b64(variants(PERSON, 5))}
    )
    assert (response.status_code, response.json()["code"]) == (402, "insufficient_credits")
    assert not SubjectModel.objects.exists() and not Job.objects.exists()


def test_training_jobs_go_only_to_training_workers(acme, settings):
    """Interactive workers never take a training job, so long training never
    delays portrait calls; training workers take nothing else."""
    from generation.jobs import queue as jobs
    from generation.jobs.worker import worker_name

    settings.EMBEDDED_WORKER = False
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    account, api = acme
    response = post_json(api, MODELS, {"type": "man", "images_base64": b64(variants(PERSON, 5))})
    training_job = SubjectModel.objects.get(pk=response.json()["model_id"]).job
    portrait = jobs.enqueue(account, variants(PERSON, 1)[0], {"style": "anime"})
    claimed = jobs.claim(worker_name())
    assert claimed.job.pk == portrait.pk and jobs.claim(worker_name()) is None
    claimed = jobs.claim(worker_name(), kinds=jobs.TRAINING_KINDS)
    assert claimed.job.pk == training_job.pk and claimed.job.kind == Job.Kind.TRAINING
    assert len(claimed.photo) > 5 * 10_000  # the packed references, until training ends


# ---- custom styles


def style_examples(count: int = 50) -> list[bytes]:
    """A consistent look: duotone crops of the fixture photos."""
    names = ("obama.jpg", "biden.jpg", "astronaut.png", "coffee.png", "chelsea.png",
             "lin-manuel-miranda.png", "alex-lacamoire.png", "two_people.jpg")  # fmt: skip
    examples = []
    for n in range(count):
        image = Image.open(PHOTOS / names[n % len(names)]).convert("RGB")
        side = 0.6 + 0.05 * (n % 7)
        image = image.crop((0, 0, int(image.width * side), int(image.height * side)))
        gray = ImageOps.grayscale(image.resize((256, 256)))
        examples.append(jpeg(ImageOps.colorize(gray, "#1b2a49", "#f4c77d")))
    return examples


def generate_and_wait(api, body: dict) -> dict:
    """POST /v1/avatar/generate, then poll its job if it answered 202."""
    response = post_json(api, "/v1/avatar/generate", body)
    assert response.status_code in (200, 202), response.content
    job = response.json()
    deadline = time.monotonic() + 90
    while job["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = api.get(f"/v1/jobs/{job['id']}").json()
    assert job["state"] == "done", job
    return job


def test_a_custom_style_trains_from_a_zip_and_works_where_a_style_name_does(acme, client):
    account, api = acme
    archive = zip_of({f"look/{n:03}.jpg": data for n, data in enumerate(style_examples())})
    response = upload(api, "/v1/styles", archive, name="Night duotone")
    assert response.status_code == 202, response.content
    token = response.json()["style_token"]
    assert token.startswith("style_") and response.json()["status"] == "ACCEPTED"
    assert balance(account) == 100 - 30

    photo = base64.b64encode(variants(PERSON, 1)[0]).decode()
    body, seen = wait_until_finished(api, f"/v1/styles/{token}")
    assert body["status"] == "DONE" and body["name"] == "Night duotone", body
    assert Job.objects.get(kind=Job.Kind.TRAINING).photo is None

    # generate, with the learnt palette as the backdrop and the learnt look as a finish
    generated = generate_and_wait(api, {"image_base64": photo, "style": token})
    job = Job.objects.get(pk=generated["id"])
    style = CustomStyle.objects.get(style_token=token)
    assert job.params["custom_style"] == str(style.pk) and job.params["palette"]
    plain = generate_and_wait(api, {"image_base64": photo, "style": job.params["style"]})
    avatar = Image.open(io.BytesIO(client.get(generated["avatar_url"]).getvalue()))
    original = Image.open(io.BytesIO(client.get(plain["avatar_url"]).getvalue()))
    assert avatar.size == original.size
    assert avatar.convert("RGB").tobytes() != original.convert("RGB").tobytes()

    # a batch names it as its style too
    batch = post_json(
        api,
        "/v1/avatar/batch",
        {"style": token, "items": [{"external_id": "ada", "image_base64": photo}]},
    )
    assert batch.status_code == 202, batch.content
    item = Job.objects.get(batch_id=batch.json()["id"])
    assert item.params["custom_style"] == str(style.pk)

    # and nobody else can use it
    _, other_key = make_account("other", credits=10)
    other = client_for(other_key)
    response = post_json(other, "/v1/avatar/generate", {"image_base64": photo, "style": token})
    assert (response.status_code, response.json()["code"]) == (400, "unknown_style")
    assert other.get(f"/v1/styles/{token}").status_code == 404


def test_a_style_needs_50_to_200_examples(acme):
    account, api = acme
    archive = zip_of({f"{n:03}.jpg": data for n, data in enumerate(style_examples(49))})
    response = upload(api, "/v1/styles", archive, name="Too few")
    assert response.status_code == 422
    assert response.json()["problems"][0]["code"] == "too_few"
    response = post_json(api, "/v1/styles", {"name": "", "image_urls": ["http://x/y.jpg"] * 50})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_name")
    assert not CustomStyle.objects.exists() and balance(account) == 100

    training = CustomStyle.objects.create(account=account, name="Soon", engine="cpu")
    photo = base64.b64encode(variants(PERSON, 1)[0]).decode()
    body = {"image_base64": photo, "style": training.style_token}
    response = post_json(api, "/v1/avatar/generate", body)
    assert (response.status_code, response.json()["code"]) == (409, "style_not_ready")
    assert not Job.objects.exists() and balance(account) == 100


# ---- the diffusion engine, on a tiny randomly initialised pipeline


@pytest.fixture
def tiny_diffusion(settings, tmp_path):
    from generation.engines.diffusion.tiny import build_tiny_pipeline

    settings.DIFFUSION_MODEL_DIR = str(build_tiny_pipeline(tmp_path / "tiny-sd"))
    settings.DIFFUSION_TRAIN_STEPS = 4
    settings.DIFFUSION_INFERENCE_STEPS = 2
    settings.DIFFUSION_RESOLUTION = 64


def test_the_diffusion_engine_trains_and_draws_through_the_api(acme, tiny_diffusion):
    account, api = acme
    body = {"type": "man", "images_base64": b64(variants(PERSON, 5)), "engine": "diffusion"}
    response = post_json(api, MODELS, body)
    assert response.status_code == 202, response.content
    assert response.json()["engine"] == "diffusion"
    model_id = response.json()["model_id"]
    trained, _ = wait_until_finished(api, f"{MODELS}/{model_id}", timeout=300)
    assert trained["status"] == "DONE" and trained["engine"] == "diffusion", trained
    request = {"prompt": "portrait", "style": "editorial", "count": 1, "seed": 5}
    no_style = {"prompt": "smiling", "count": 1, "seed": 6}  # style auto: the prompt decides
    requests = {"requests": [request, no_style]}
    inference = post_json(api, f"{MODELS}/{model_id}/inferences", requests)
    url = f"{MODELS}/{model_id}/inferences/{inference.json()['inference_id']}"
    result, _ = wait_until_finished(api, url, timeout=300)
    assert result["status"] == "DONE", result
    assert [avatar["engine"] for avatar in result["avatars"]] == ["diffusion", "diffusion"]
    assert balance(account) == 100 - TRAINING_PRICE - 2


# ---- leases, attempts, exactly-once, progress events


@pytest.fixture
def no_workers(settings):
    """Jobs stay queued: the test runs the workers' steps itself."""
    settings.EMBEDDED_WORKER = False
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def queued_model(api) -> SubjectModel:
    response = post_json(api, MODELS, {"type": "man", "images_base64": b64(variants(PERSON, 5))})
    assert response.status_code == 202, response.content
    return SubjectModel.objects.get(pk=response.json()["model_id"])


def test_a_training_whose_worker_died_is_finished_once_by_another(acme, no_workers):
    from generation.jobs import queue as jobs
    from generation.jobs.training import run_training

    account, api = acme
    model = queued_model(api)
    first = jobs.claim("worker-a", kinds=jobs.TRAINING_KINDS)
    Job.objects.filter(pk=first.job.pk).update(lease_expires_at=timezone.now())  # a dies
    second = jobs.claim("worker-b", kinds=jobs.TRAINING_KINDS)
    assert second.job.pk == first.job.pk and second.job.attempts == 2
    run_training(second, "worker-b")
    run_training(first, "worker-a")  # a comes back too late: its result is discarded
    model.refresh_from_db()
    assert model.status == "DONE" and model.artifact.name.endswith("-2.zip")
    assert stored_files() == [model.artifact.name]
    assert balance(account) == 100 - TRAINING_PRICE  # charged once
    assert Job.objects.get(pk=first.job.pk).photo is None


def test_a_training_that_keeps_losing_its_workers_fails_free(acme, no_workers, settings):
    from generation.jobs import queue as jobs

    settings.JOB_MAX_ATTEMPTS = 1
    account, api = acme
    model = queued_model(api)
    claimed = jobs.claim("worker-a", kinds=jobs.TRAINING_KINDS)
    Job.objects.filter(pk=claimed.job.pk).update(lease_expires_at=timezone.now())
    assert jobs.claim("worker-b", kinds=jobs.TRAINING_KINDS) is None  # given up
    body = api.get(f"{MODELS}/{model.pk}").json()
    assert body["status"] == "FAILED" and body["error"]["code"] == "worker_lost"
    assert balance(account) == 100 and Job.objects.get().photo is None


def test_training_progress_goes_to_the_jobs_listeners(acme, no_workers):
    import asyncio

    from generation.jobs import queue as jobs
    from generation.jobs.notify import JobWaiter
    from generation.jobs.training import run_training

    account, api = acme
    model = queued_model(api)
    claimed = jobs.claim("worker-a", kinds=jobs.TRAINING_KINDS)
    events: list[dict] = []

    async def listen_while_training() -> None:
        async with JobWaiter(model.job_id, on_event=events.append) as waiter:
            training = asyncio.get_running_loop().run_in_executor(
                None, run_training, claimed, "worker-a"
            )
            await waiter.wait(120)
            await training

    asyncio.run(listen_while_training())
    running = [event for event in events if event["state"] == "running"]
    fractions = [event["progress"] for event in running]
    assert len(running) >= 5 and fractions == sorted(fractions) and fractions[-1] > 0.9
    assert any(event.get("eta_seconds") for event in running)
    assert all(event.get("stage") for event in running[1:])
    assert events[-1]["state"] == "done" and events[-1]["status"] == "DONE"


# ---- the pages' server side


def test_training_pages_need_a_sign_in_and_a_person_sees_only_their_own(client, django_user_model):
    response = client.get("/models/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    ada = django_user_model.objects.create_user("ada", password="pw-ada-12345678")
    bob = django_user_model.objects.create_user("bob", password="pw-bob-12345678")
    theirs = SubjectModel.objects.create(user=bob, subject_type="cat", engine="cpu")
    client.force_login(ada)
    assert client.get(f"/models/{theirs.pk}/").status_code == 404
    assert client.get(f"/models/{theirs.pk}/panel").status_code == 404
    assert client.get("/models/not-a-uuid/").status_code == 404


def test_site_users_train_free_but_a_few_times_a_day(client, django_user_model, settings):
    settings.SITE_TRAININGS_PER_DAY = 1
    settings.EMBEDDED_WORKER = False
    ada = django_user_model.objects.create_user("ada", password="pw-ada-12345678")
    client.force_login(ada)

    def upload_set():
        files = []
        for number, photo in enumerate(variants(PERSON, 5)):
            handle = io.BytesIO(photo)
            handle.name = f"me-{number}.jpg"
            files.append(handle)
        return client.post("/models/", {"type": "man", "photos": files})

    response = upload_set()
    assert response.status_code == 302
    model = SubjectModel.objects.get(user=ada)
    assert model.account is None and model.job.params["billing"] == "site"
    assert not model.job.charged
    again = upload_set()
    assert again.status_code == 400 and b"1 models a day" in again.content
    assert SubjectModel.objects.count() == 1
    SubjectModel.objects.update(status="IMAGE_NOT_VALID")  # a set that failed its check
    assert upload_set().status_code == 302  # does not count


def test_the_progress_socket_serves_only_the_models_owner(django_user_model, settings):
    import asyncio

    from channels.testing import WebsocketCommunicator
    from django.contrib.auth.models import AnonymousUser

    from generation.web.training_consumer import FORBIDDEN, ModelProgressConsumer

    settings.EMBEDDED_WORKER = False
    ada = django_user_model.objects.create_user("ada", password="pw-ada-12345678")
    bob = django_user_model.objects.create_user("bob", password="pw-bob-12345678")
    job = Job.objects.create(kind=Job.Kind.TRAINING, params={"target": "subject"})
    model = SubjectModel.objects.create(user=ada, subject_type="dog", engine="cpu", job=job)

    async def connect(user) -> tuple[bool, object, list[dict]]:
        app = ModelProgressConsumer.as_asgi()
        socket = WebsocketCommunicator(app, f"/ws/models/{model.pk}/")
        socket.scope["user"] = user
        socket.scope["url_route"] = {"kwargs": {"model_id": model.pk}}
        connected, code = await socket.connect()
        frames = []
        if connected:
            frames = [await socket.receive_json_from(), await socket.receive_json_from()]
            await socket.disconnect()
        return connected, code, frames

    assert asyncio.run(connect(AnonymousUser()))[:2] == (False, FORBIDDEN)
    assert asyncio.run(connect(bob))[:2] == (False, FORBIDDEN)
    connected, _, frames = asyncio.run(connect(ada))
    assert connected
    assert frames[0] == {"type": "job", "kind": "training", "job": str(job.pk),
                         "state": "queued", "progress": 0.0}  # fmt: skip
    assert frames[1] == {"type": "following", "jobs": 1}


def test_operators_see_custom_models_in_the_admin(admin_client, acme):
    account, _ = acme
    model = SubjectModel.objects.create(account=account, subject_type="cat", engine="cpu")
    listing = admin_client.get("/admin/generation/subjectmodel/")
    assert listing.status_code == 200 and str(model.pk) in listing.content.decode()
    assert admin_client.get(f"/admin/generation/subjectmodel/?q={model.pk}").status_code == 200
    assert admin_client.get("/admin/generation/subjectmodel/?q=not-a-uuid").status_code == 200
    assert admin_client.get("/admin/generation/customstyle/").status_code == 200


def test_runworker_avatar_training_trains_models(acme, no_workers, settings):
    """The deployed shape: `manage.py runworker avatar-training` in a process
    of its own takes the training job (it polls from the start)."""
    import os
    import subprocess
    import sys

    account, api = acme
    model = queued_model(api)
    env = {**os.environ, "DATABASE_URL": shared_database_url(), "REDIS_URL": "",
           "MEDIA_ROOT": str(settings.MEDIA_ROOT), "AVATAR_EMBEDDED_WORKER": "false",
           "JOB_POLL_SECONDS": "0.5", "LOG_LEVEL": "WARNING"}  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "runworker", "avatar-training"], env=env
    )
    try:
        body, _ = wait_until_finished(api, f"{MODELS}/{model.pk}", timeout=120)
    finally:
        worker.terminate()
        worker.wait(20)
    assert body["status"] == "DONE"
    assert SubjectModel.objects.get(pk=model.pk).job.lease_owner.split(":")[1] == str(worker.pid)


def test_an_idempotency_key_makes_a_retry_answer_the_first_model(acme, no_workers):
    """A platform whose answer got lost retries: same model_id, charged once
    (the model_id is the only handle, so losing it must not cost a model)."""
    account, api = acme
    body = {"type": "man", "images_base64": b64(variants(PERSON, 5))}
    first = post_json(api, MODELS, body, HTTP_IDEMPOTENCY_KEY="train-ada")
    again = post_json(api, MODELS, body, HTTP_IDEMPOTENCY_KEY="train-ada")
    assert first.status_code == again.status_code == 202
    assert first.json()["model_id"] == again.json()["model_id"]
    assert SubjectModel.objects.count() == 1 and balance(account) == 100 - TRAINING_PRICE
    styles = post_json(api, "/v1/styles", {"name": "x", "image_urls": ["http://x/a.jpg"] * 50},
                       HTTP_IDEMPOTENCY_KEY="train-ada")  # fmt: skip
    assert (styles.status_code, styles.json()["code"]) == (422, "idempotency_key_reused")

    model = SubjectModel.objects.get()
    SubjectModel.objects.filter(pk=model.pk).update(status="DONE")
    url = f"{MODELS}/{model.pk}/inferences"
    request = {"requests": [{"prompt": "studio portrait", "count": 3}]}
    first = post_json(api, url, request, HTTP_IDEMPOTENCY_KEY="draw-1")
    again = post_json(api, url, request, HTTP_IDEMPOTENCY_KEY="draw-1")
    assert first.json()["inference_id"] == again.json()["inference_id"]
    assert balance(account) == 100 - TRAINING_PRICE - 3
    other = {"requests": [{"prompt": "anime portrait", "count": 3}]}
    reused = post_json(api, url, other, HTTP_IDEMPOTENCY_KEY="draw-1")
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")


def test_deleting_a_model_takes_its_images_and_stops_its_training(acme, no_workers):
    from generation.jobs import queue as jobs
    from generation.jobs.training import run_training

    account, api = acme
    model = queued_model(api)
    claimed = jobs.claim("worker-a", kinds=jobs.TRAINING_KINDS)
    _, other_key = make_account("other", credits=1)
    assert client_for(other_key).delete(f"{MODELS}/{model.pk}").status_code == 404
    assert api.delete(f"{MODELS}/{model.pk}").status_code == 204  # while it trains
    run_training(claimed, "worker-a")  # the worker finishes: its result is thrown away
    assert stored_files() == [] and not Job.objects.exists()
    assert balance(account) == 100  # the held price came back
    assert api.get(f"{MODELS}/{model.pk}").status_code == 404
    assert api.delete(f"{MODELS}/{model.pk}").status_code == 404


def test_a_person_deletes_their_model_from_its_page(client, django_user_model, acme):
    account, _ = acme
    ada = django_user_model.objects.create_user("ada", password="pw-ada-12345678")
    artifact = default_storage.save("custom-models/mine-1.zip", io.BytesIO(b"zip"))
    model = SubjectModel.objects.create(
        user=ada, subject_type="dog", engine="cpu", status="DONE", artifact=artifact
    )
    drawn = default_storage.save("inferences/x-1-0.png", io.BytesIO(b"png"))
    Job.objects.create(kind=Job.Kind.INFERENCE, state="done",
                       params={"model_id": str(model.pk), "images": 1},
                       result={"avatars": [{"file": drawn}]})  # fmt: skip
    client.force_login(ada)
    assert client.get(f"/models/{model.pk}/delete").status_code == 405
    response = client.post(f"/models/{model.pk}/delete")
    assert response.status_code == 302 and response["Location"] == "/models/"
    assert not SubjectModel.objects.exists() and not Job.objects.exists()
    assert stored_files() == []


def test_hostile_urls_are_named_by_position_and_never_fetched(acme):
    account, api = acme
    urls = [
        "file:///etc/passwd",
        "http://127.0.0.1:9/private.jpg",  # a private address: never connected to
        "http://169.254.169.254/latest/meta-data/",
        "gopher://example.com/x",
        "http://[::1]/x.jpg",
    ]
    response = post_json(api, MODELS, {"type": "dog", "image_urls": urls})
    assert response.status_code == 422, response.content
    problems = response.json()["problems"]
    assert [p["index"] for p in problems] == [0, 1, 2, 3, 4]
    assert problems[0]["code"] == problems[3]["code"] == "bad_url"
    assert all(p["code"] != "not_an_image" for p in problems)
    assert nothing_stored(account)


def test_after_a_restart_asking_about_a_queued_model_gets_it_trained(acme, no_workers, settings):
    """The embedded default starts its worker threads at the first wake-up; a
    model queued before a restart is trained once anyone asks about it."""
    account, api = acme
    model = queued_model(api)  # queued while no worker ran
    settings.EMBEDDED_WORKER = True  # the server restarted
    body, _ = wait_until_finished(api, f"{MODELS}/{model.pk}")
    assert body["status"] == "DONE"
