"""Gateway part: audit_api — not built yet (see the open issues)."""

from fastapi import APIRouter

router = APIRouter()
