"""Picked avatars: a person's own photo or the AI version, kept as a square PNG
(previews are not: their files expire), served at any size from it."""

import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image, ImageOps

from generation.models import ProfileAvatar

STORED_SIDE = 512
MIN_SIZE, MAX_SIZE = 16, 1024
FACE_SCALE = 2.2  # the square around the face, in face sizes: head and shoulders


def square_around(image: Image.Image, face: dict | None) -> Image.Image:
    """The largest sensible square of the photo centred on the face (the
    middle of the photo when no face is known), at STORED_SIDE px."""
    width, height = image.size
    if face:
        cx, cy = face["x"] + face["width"] / 2, face["y"] + face["height"] / 2
        side = min(max(face["width"], face["height"]) * FACE_SCALE, width, height)
    else:
        cx, cy, side = width / 2, height / 2, min(width, height)
    left = min(max(cx - side / 2, 0), width - side)
    top = min(max(cy - side / 2, 0), height - side)
    box = (round(left), round(top), round(left + side), round(top + side))
    return image.crop(box).resize((STORED_SIDE, STORED_SIDE), Image.Resampling.LANCZOS)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _replace(user, kind: str, png: bytes, style: str = "") -> ProfileAvatar:
    """The user's new pick; the old one (and its files) goes."""
    with transaction.atomic():
        ProfileAvatar.objects.filter(user=user).delete()
        picked = ProfileAvatar(user=user, kind=kind, style=style)
        name = f"profile/{picked.public_id}/{STORED_SIDE}.png"
        picked.image.name = default_storage.save(name, ContentFile(png))
        picked.save()
    return picked


def pick_photo(user, photo: bytes, face: dict | None) -> ProfileAvatar:
    """Keep the person's own photo (EXIF-rotated, squared on the face)."""
    with Image.open(io.BytesIO(photo)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    return _replace(user, ProfileAvatar.Kind.PHOTO, _png(square_around(image, face)))


def pick_ai(user, png: bytes, style: str) -> ProfileAvatar:
    """Keep an AI avatar (already square)."""
    with Image.open(io.BytesIO(png)) as opened:
        image = opened.convert("RGB").resize((STORED_SIDE, STORED_SIDE), Image.Resampling.LANCZOS)
    return _replace(user, ProfileAvatar.Kind.AI, _png(image), style)


def clear_pick(user) -> None:
    """Back to the identity avatar."""
    ProfileAvatar.objects.filter(user=user).delete()


def sized_png(picked: ProfileAvatar, size: int) -> bytes:
    """The picked avatar at `size` px, drawn once per size and kept beside it."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be {MIN_SIZE}-{MAX_SIZE}")
    name = f"profile/{picked.public_id}/{size}.png"
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            return handle.read()
    with default_storage.open(picked.image.name, "rb") as handle, Image.open(handle) as image:
        body = _png(image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS))
    default_storage.save(name, ContentFile(body))
    return body
