"""Measure likeness score intervals on the fixture photos: same person, different people,
and each style's avatars against their own photo and against other people's.

    .venv/bin/python bench/likeness.py [--no-avatars]

Prints every pair's distance and likeness, then the intervals per kind of pair and the
margins to the platform thresholds (docs/portrait/README.md cites this output).

Faces come from every fixture of a known person, group photos included (each face named by
its place in the photo); copies and crops of one photo are measured but kept apart from
"same person, different photos", where they would flatter the lower bound.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generation.portrait.face import find_faces  # noqa: E402
from generation.portrait.likeness import CENTRE, WIDTH, embedding, likeness  # noqa: E402
from generation.portrait.load import load_photo  # noqa: E402
from generation.portrait.pipeline import AvatarRequest, PortraitPipeline  # noqa: E402
from generation.portrait.presets import THRESHOLDS  # noqa: E402

PHOTOS = ROOT / "tests" / "fixtures" / "photos"


@dataclass(frozen=True)
class Face:
    label: str  # photo[:which face]
    person: str
    source: str  # the original photo this one was copied or cropped from


# (photo, face index left to right or None for the only/dominant face, person, source)
FACES = [
    ("obama.jpg", None, "obama", "obama official portrait"),
    ("obama_small.jpg", None, "obama", "obama official portrait"),
    ("obama_partial_face.jpg", None, "obama", "obama official portrait"),
    ("obama2.jpg", None, "obama", "obama podium"),
    ("32bit.png", None, "obama", "obama podium"),
    ("obama3.jpg", None, "obama", "obama3"),
    ("two_people.jpg", 0, "obama", "obama3"),  # a montage of obama3.jpg and biden.jpg
    ("obama_and_biden.jpg", 1, "obama", "obama_and_biden"),
    ("biden.jpg", None, "biden", "biden"),
    ("biden2.jpg", None, "biden", "biden2"),
    ("two_people.jpg", 1, "biden", "biden"),
    ("obama_and_biden.jpg", 0, "biden", "obama_and_biden"),
    ("lin-manuel-miranda.png", None, "lin-manuel miranda", "lin-manuel-miranda"),
    ("alex-lacamoire.png", None, "alex lacamoire", "alex-lacamoire"),
    ("astronaut.png", None, "astronaut", "astronaut"),
]
# The photos avatars are made from (one per person who has a clean portrait).
AVATAR_PHOTOS = ("obama2.jpg", "biden2.jpg", "lin-manuel-miranda.png", "alex-lacamoire.png")
STYLE_PLATFORMS = (("corporate_headshot", "linkedin"), ("anime", "discord"),
                   ("editorial", "portfolio"))  # fmt: skip


def face_vectors() -> dict[Face, np.ndarray]:
    vectors = {}
    for name, index, person, source in FACES:
        image = load_photo((PHOTOS / name).read_bytes())
        faces, _ = find_faces(image)
        if index is None:
            box, label = faces[0], name
        else:
            people = sorted(faces[:2], key=lambda b: b.centre[0])  # the two largest
            box, label = people[index], f"{name}:{'left' if index == 0 else 'right'}"
        vectors[Face(label, person, source)] = embedding(image, box)
    return vectors


def interval(pairs: list[tuple[str, str, float, float]]) -> str:
    distances = [d for _, _, d, _ in pairs]
    scores = [s for _, _, _, s in pairs]
    return (
        f"n={len(pairs):3d}  distance {min(distances):.3f} - {max(distances):.3f}  "
        f"likeness {min(scores):.4f} - {max(scores):.4f}"
    )


def photo_pairs(vectors: dict[Face, np.ndarray]) -> dict[str, list]:
    kinds: dict[str, list] = {"same photo (copy/crop)": [], "same person": [], "different": []}
    for a, b in combinations(vectors, 2):
        distance = float(np.linalg.norm(vectors[a] - vectors[b]))
        score = likeness(vectors[a], vectors[b])
        if a.person != b.person:
            kind = "different"
        elif a.source == b.source:
            kind = "same photo (copy/crop)"
        else:
            kind = "same person"
        kinds[kind].append((a.label, b.label, distance, score))
    return kinds


def avatar_pairs(vectors: dict[Face, np.ndarray]) -> dict[str, dict[str, list]]:
    """Per style: each avatar against its own photo (the pipeline's own score) and
    against every photo of other people."""
    pipeline = PortraitPipeline()
    by_name = {f.label: f for f in vectors}
    out: dict[str, dict[str, list]] = {}
    for style, platform in STYLE_PLATFORMS:
        own, others = [], []
        for name in AVATAR_PHOTOS:
            request = AvatarRequest(style=style, platform=platform, request_id="likeness", seed=1)
            result = pipeline.generate((PHOTOS / name).read_bytes(), request)
            avatar = load_photo(result.png)
            faces, _ = find_faces(avatar)
            if not faces:
                continue
            vector = embedding(avatar, faces[0])
            own.append((name, "its photo", float("nan"), result.likeness_score))
            for face in vectors:
                if face.person != by_name[name].person:
                    distance = float(np.linalg.norm(vector - vectors[face]))
                    others.append((name, face.label, distance, likeness(vector, vectors[face])))
        out[f"{style} ({platform})"] = {"own photo": own, "other people": others}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-avatars", action="store_true", help="photo pairs only")
    args = parser.parse_args()

    vectors = face_vectors()
    kinds = photo_pairs(vectors)
    for kind, pairs in kinds.items():
        print(f"== {kind}")
        for a, b, distance, score in sorted(pairs, key=lambda p: p[2]):
            print(f"   {a:<28} {b:<28} d={distance:.3f}  likeness={score:.4f}")
    print("\n== intervals (photo against photo)")
    for kind, pairs in kinds.items():
        print(f"   {kind:<24} {interval(pairs)}")
    same_far = max(d for _, _, d, _ in kinds["same person"])
    different_near = min(d for _, _, d, _ in kinds["different"])
    print("\n== margins to the thresholds, as embedding distances")
    for audience, threshold in THRESHOLDS.items():
        at = CENTRE + WIDTH * math.log((1 - threshold) / threshold)  # the threshold's distance
        closer, farther = at - same_far, different_near - at
        print(
            f"   {audience:<12} {threshold:.2f} (d={at:.3f}): the farthest same-person pair is "
            f"{closer:.3f} closer, the nearest different-person pair {farther:.3f} farther"
        )

    if args.no_avatars:
        return
    print("\n== avatars (seed 1)")
    for style, groups in avatar_pairs(vectors).items():
        own = [s for *_, s in groups["own photo"]]
        print(
            f"   {style:<30} against its photo: {min(own):.4f} - {max(own):.4f} "
            f"(n={len(own)}); against other people: {interval(groups['other people'])}"
        )


if __name__ == "__main__":
    main()
