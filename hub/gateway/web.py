"""Gateway part: web — not built yet (see the open issues)."""

from fastapi import APIRouter

router = APIRouter()
