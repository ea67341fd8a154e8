"""The auth layer: Google's server-side OAuth flow, token storage, Gmail reads and the mailbox sync.

Shipped as one Lambda layer (`/opt/python/gmail_connect`); every function imports from here and
keeps only its routes. The folders name the features, and imports only point down this list
(tests/unit/test_layering.py holds it):

- `core/`   settings, domain errors, logging/metrics, boto3 clients, opaque tokens, batch sends to AWS
- `store/`  DynamoDB + KMS: accounts (one item parser, the IAM attribute lists), grant writes,
            token encryption, the warm container's token cache, OAuth states, sessions
- `oauth/`  Google's OAuth protocol: the client config (Secrets Manager), consent URL, code
            exchange and identity, and the two use cases built on nothing but it: connect, disconnect
- `gmail/`  Google's Gmail API: retry policy, transport, the client (single calls and batches),
            Google's error answers, and `credentials` - the stored grant as a token source, which
            also judges what Google's refusals mean for the account
- `sync/`   the mailbox sync: one user's algorithm, the SQS worker, the scheduler's fan-out, events
- `api/`    HTTP at the edge: request input, responses and error mapping, and the read use cases
- `push/`   Gmail push through Pub/Sub: the subscription's OIDC token, notifications to sync requests

This differs from a plain "use cases on top" picture in one place: connect and disconnect live
with the OAuth protocol (they need only it and the store), so `oauth` sits below `gmail`, which
needs the client config to refresh tokens. Subpackage `__init__.py` files stay empty, and heavy
dependencies (oauthlib, googleapiclient) are imported on first use, so a function pays at cold
start only for what it uses.
"""
