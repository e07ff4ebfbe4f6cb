"""CARICC-style regional intelligence-sharing hub: connectors → Kafka → faust stages → feeds."""

__version__ = "0.1.0"
