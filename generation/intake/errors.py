"""The one exception the intake helpers raise for a URL or archive they refuse."""


class IntakeError(Exception):
    """A refused image URL or photo archive, with a stable machine-readable ``code``.

    Codes from ``fetch_image``: invalid_url, url_not_allowed, fetch_failed, fetch_timeout,
    file_too_large, not_an_image. Codes from ``read_zip_photos``: invalid_archive,
    archive_too_large, too_many_files, unsafe_archive_path, nested_archive, encrypted_archive,
    duplicate_entry, archive_empty.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
