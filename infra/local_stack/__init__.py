"""``make local``: the product on loopback (moto's server + the Google emulator + an HTTP
front that turns requests into API Gateway HTTP API events for the handlers, in-process).

Modules: ``provision`` (AWS resources from ``template.yaml``), ``apigw`` (payload 2.0 events
and responses, Lambda context), ``handlers`` (load ``functions/*/app.py`` by path), ``front``
(the WSGI app), ``request_handler`` (the HTTP request head, parsed as a real front does),
``sigv4`` (AWS_IAM authorization), ``event_tap`` (the bus copied to SQS), ``local_console``
(the console's local-only ``/_local/*`` routes: bus events, deliver a test message), ``stack``
(``LocalStack``: everything together), ``__main__`` (the command), ``sync`` (``make sync``) and
``sync_report`` (what it published, and why nothing), ``sam_local`` and ``session_event``
(running the functions with ``sam local``).
"""
