"""The gateway process: REST ingest, officer feeds (SSE/JSON/web page), audit API, ops endpoints."""
