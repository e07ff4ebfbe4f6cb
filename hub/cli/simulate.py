"""`hub simulate` — not built yet (see the open issues)."""

commands: list = []
