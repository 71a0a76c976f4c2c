"""Count how often FaceDetect turns a photo the right way up.

    .venv/bin/python bench/orientation.py

Every fixture photo of a person, as it is and darkened to x0.12 (then corrected as the
pipeline does), blurred, JPEG-compressed at quality 25 and tilted 20 degrees, each turned
0, 90, 180 and 270 degrees without an EXIF tag: prints each miss and the count.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generation.portrait.exposure import correct_frame  # noqa: E402
from generation.portrait.face import detect_upright  # noqa: E402

PHOTOS = ROOT / "tests" / "fixtures" / "photos"
NAMES = ("obama.jpg", "obama2.jpg", "obama3.jpg", "obama_small.jpg", "obama_partial_face.jpg",
         "biden.jpg", "biden2.jpg", "two_people.jpg", "obama_and_biden.jpg",
         "lin-manuel-miranda.png", "alex-lacamoire.png", "astronaut.png")  # fmt: skip


def variants(image: np.ndarray) -> dict[str, np.ndarray]:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=25)
    height, width = image.shape[:2]
    tilt = cv2.getRotationMatrix2D((width / 2, height / 2), 20, 1.0)
    return {
        "as is": image,
        "dark x0.12": correct_frame((image * 0.12).astype(np.uint8))[0],
        "blurred": cv2.GaussianBlur(image, (0, 0), 3),
        "jpeg q25": np.asarray(Image.open(buffer).convert("RGB")),
        "tilted 20": cv2.warpAffine(image, tilt, (width, height), borderMode=cv2.BORDER_REPLICATE),
    }


def main() -> None:
    misses = total = 0
    for name in NAMES:
        photo = np.asarray(Image.open(PHOTOS / name).convert("RGB"))
        for variant, image in variants(photo).items():
            for turns in range(4):
                _, analysis, back = detect_upright(np.ascontiguousarray(np.rot90(image, turns)))
                total += 1
                if not analysis.face_detected:
                    misses += 1
                    print(f"   no face: {name}, {variant}, turned {turns * 90}")
                elif (turns + back) % 4:
                    misses += 1
                    print(f"   WRONG WAY UP: {name}, {variant}, turned {turns * 90}")
    print(f"right way up: {total - misses} of {total}")


if __name__ == "__main__":
    main()
