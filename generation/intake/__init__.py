"""Taking photos in from outside: image URLs fetched server-side and zip archives of photos.

Plain Python (no Django), so the API layer decides how a refusal becomes a response.
"""

from generation.intake.archive import ArchiveLimits, read_zip_photos
from generation.intake.errors import IntakeError
from generation.intake.fetch import FetchPolicy, fetch_image

__all__ = ["ArchiveLimits", "FetchPolicy", "IntakeError", "fetch_image", "read_zip_photos"]
