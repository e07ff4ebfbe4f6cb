"""The provider side (SPEC §13): what happened to an agency's reports, requests from their
recipients, and the answers — read models kept by the sink, stores used by the gateway.

* :mod:`hub.provider.receipts` — the status/receipts projection (fed by audit events and Receipts)
  and the agency's cursor-resumable stream of status changes.
* :mod:`hub.provider.requests` — consent and information requests, their limits and answers.
* :mod:`hub.provider.share` — a granted onward consent as a ShareCommand record for ``hub.intake``.
* :mod:`hub.directory.desk_users` — desk users: credentials bound to one agency.
"""
