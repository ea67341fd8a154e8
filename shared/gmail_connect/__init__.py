"""The auth layer: Google's server-side OAuth flow, token storage and sessions for Gmail.

Shipped as one Lambda layer (`/opt/python/gmail_connect`); every function imports from here
and keeps only its routes. Modules import their heavy dependencies (oauthlib, googleapiclient)
lazily, so a function pays at cold start only for what it uses.
"""
