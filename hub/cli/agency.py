"""`hub agency` — not built yet (see the open issues)."""

commands: list = []
