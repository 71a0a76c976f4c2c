"""What the pages say to people: pipeline stages, likeness, warnings and
refusals in plain language (the API keeps its codes)."""

STAGE_LABELS = {
    "queued": "Waiting for a free worker",
    "load": "Reading your photo",
    "exposure": "Checking the light",
    "safety": "Checking the photo is suitable",
    "face_detect": "Finding your face",
    "face_exposure": "Checking the light on your face",
    "quality": "Checking sharpness and framing",
    "align": "Straightening and framing",
    "segment": "Separating you from the background",
    "background": "Painting a new background",
    "embed_input": "Learning what makes you look like you",
    "style": "Applying the style",
    "composite": "Placing you on the background",
    "enhance": "Finishing touches",
    "look": "Grading the colours",
    "checks": "Making sure it still looks like you",
    "save": "Saving your avatar",
}

STYLE_NAMES = {
    "corporate_headshot": "Corporate headshot",
    "anime": "Anime",
    "editorial": "Editorial",
}
BACKGROUND_NAMES = {"studio": "Studio", "neon": "Neon", "bokeh": "Bokeh"}

WARNINGS = {
    "likeness_below_threshold": "The AI version may not look enough like you. Try another "
    "style, or keep your own photo.",
    "no_face_in_output": "We could not find your face in the AI version.",
    "unsafe_output": "The AI version did not pass our content check.",
    "multiple_faces": "We found more than one face and used the largest one.",
    "low_light": "Your photo was very dark. We brightened it, but a photo taken in better "
    "light will look better.",
    "face_cut_off": "Part of your face is outside the photo. A photo with your whole face "
    "in it will look better.",
    "overexposed": "Your face is washed out to white in this photo. A photo in softer light "
    "will look better.",
}

REFUSALS = {
    "no_face": "We could not find a face in this photo. Try one where your face is clearly "
    "visible and well lit.",
    "face_too_small": "The face is too small in this photo. Try a closer one: head and "
    "shoulders work best.",
    "not_an_image": "That file is not a photo we can read. Try a JPEG, PNG or WebP.",
    "truncated_image": "That photo seems damaged or incomplete. Try saving it again.",
    "image_too_small": "That photo is too small. Try one at least 200 by 200 pixels.",
    "image_too_large": "That photo has too many pixels. Try a smaller version of it.",
    "file_too_large": "That file is too big. Try a smaller photo.",
    "unsafe_content": "This photo was refused by our content check.",
    "input_expired": "Your photo is no longer kept (we delete uploads after 24 hours). "
    "Please add it again.",
    "input_not_cached": "Please add your photo again.",
    "no_photo": "Choose a photo first.",
    "rate_limited": "You have made a lot of previews in a short time.",
}
DEFAULT_REFUSAL = "Something went wrong while making your avatar. Please try again."


def stage_label(stage: str) -> str:
    return STAGE_LABELS.get(stage, "Working on it")


def likeness_words(score: float | None) -> str:
    if score is None:
        return ""
    if score >= 0.85:
        return "A very close likeness"
    if score >= 0.7:
        return "A good likeness"
    if score >= 0.5:
        return "Some likeness"
    return "A loose likeness"


def warnings_in_words(codes: list[str]) -> list[str]:
    return [WARNINGS.get(code, "The AI version did not pass every check.") for code in codes]


def refusal(code: str) -> str:
    return REFUSALS.get(code, DEFAULT_REFUSAL)
