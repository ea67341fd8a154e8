"""A local, in-memory stand-in for the Google endpoints the product calls.

OAuth 2.0 consent (``/o/oauth2/v2/auth``), token (``/token``), revoke (``/revoke``), userinfo
(``/v1/userinfo``), signing keys (``/oauth2/v3/certs``), Gmail v1 (``/gmail/v1/...``, push
``watch``/``stop`` included, with Pub/Sub push delivery to a registered endpoint) and the batch
endpoint (``/batch/gmail/v1``), plus control endpoints under ``/_emulator``. Served over
loopback HTTP so the real google-auth, google-auth-oauthlib and googleapiclient code runs.
"""

from .emulator import GoogleEmulator

__all__ = ["GoogleEmulator"]
