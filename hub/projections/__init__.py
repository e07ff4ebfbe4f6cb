"""Read models kept from the hub's topics, each by its own consumer (issue 20).

Every read model is a *projection*: a Kafka consumer with its own group id (``hub-sink-<name>``),
its own offsets, its own database transaction per batch and its own lag
(``hub_projection_lag_seconds{projection}``, and the ``projection_progress`` row the gateway shows at
``GET /v1/projections``). A slow projection delays only itself: the officer's feed store never waits
for the search index.

| projection | module | topics | tables |
|---|---|---|---|
| ``feeds`` | :mod:`hub.feeds.projection` | ``hub.feed.*`` | ``feed_items`` (never ``feed_acks``: the gateway writes those) |
| ``audit`` | :mod:`hub.audit.projection` | ``hub.audit`` | ``audit_log``, ``audit_head``, ``audit_meta`` |
| ``analyst`` | :mod:`hub.analyst.projection` | ``hub.feed.*``, ``hub.receipts`` | ``analyst_*`` (+ the per-state FTS tables) |
| ``provider`` | :mod:`hub.provider.projection` | ``hub.audit``, ``hub.receipts`` | ``provider_*`` |

Shared parts: :mod:`hub.projections.base` (the :class:`~hub.projections.base.Projection` contract,
decoding), :mod:`hub.projections.progress` (the progress table and the lag arithmetic),
:mod:`hub.projections.wake` (commit → wake-up of the gateway's streams: PostgreSQL NOTIFY, a
same-host datagram on SQLite), :mod:`hub.projections.registry` (names → projections),
:mod:`hub.projections.http` (the lag endpoint). The consumer loop and the rebuild are in
:mod:`hub.sink`.
"""
