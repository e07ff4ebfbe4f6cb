"""Gateway part: feeds — not built yet (see the open issues)."""

from fastapi import APIRouter

router = APIRouter()
