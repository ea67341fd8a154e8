"""The two states a stored grant can be in: the values of TokensTable's `status` attribute.

They also name the API's `reauthorization_required` error and the sync's outcome for such an
account, so the string is defined here once.
"""

CONNECTED = "connected"
REAUTHORIZATION_REQUIRED = "reauthorization_required"
