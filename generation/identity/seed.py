"""Seeds: a keyed hash of an identifier, so avatars are deterministic per
deployment but the identifier cannot be recovered or guessed from them."""

import hashlib
import hmac

MAX_IDENTIFIER_LENGTH = 256


def derive_seed(identifier: str, secret: str | bytes) -> bytes:
    """HMAC-SHA256(secret, identifier): 32 bytes."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, identifier.encode("utf-8"), hashlib.sha256).digest()
