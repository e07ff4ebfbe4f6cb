"""Interoperability (SPEC §15): each state's feed as STIX 2.1 (:mod:`hub.interop.stix`, pure) over TAXII 2.1
(:mod:`hub.interop.taxii`), from a per-collection object store derived from the feed (:mod:`hub.interop.store`).
See docs/stix.md."""
