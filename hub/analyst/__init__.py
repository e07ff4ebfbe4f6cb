"""The analyst workspace (SPEC §14): incidents, search, statistics and exports per state.

Every answer is computed from one state's own documents — the feed items it received and the
receipts of the reports it sent — and from nothing else, so what a state sees never depends on
reports it may not see (the non-interference rule of §5). See docs/analyst.md.

* :mod:`hub.analyst.text` — token cleaning, stems, substance synonyms, country names (pure)
* :mod:`hub.analyst.extract` — a feed item or receipt → one searchable document with its facts (pure)
* :mod:`hub.analyst.label` — the short readable label of an incident id (pure)
* :mod:`hub.analyst.query` — a search string → per-word alternatives → FTS5 / tsquery text (pure)
* :mod:`hub.analyst.incidents` — incident summary and detail from its documents (pure)
* :mod:`hub.analyst.exports` — GeoJSON, CSV and i2 rows (pure)
* :mod:`hub.analyst.geo` — coordinates of places and countries
* :mod:`hub.analyst.store` — the tables (SQLite FTS5 or PostgreSQL tsvector/trigram) and the sink projection
"""
