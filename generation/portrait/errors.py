"""The one exception the portrait pipeline raises for a bad request."""


class PortraitError(Exception):
    """A photo the pipeline refuses, with a stable machine-readable ``code``.

    Codes: not_an_image, truncated_image, image_too_small, image_too_large,
    file_too_large, no_face, face_too_small, unsafe_content, unknown_style,
    unknown_platform, bad_size, bad_intensity, bad_palette, bad_background.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
