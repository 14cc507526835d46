"""Python tool of the briefing example."""


def note_stats(text: str) -> dict:
    words = text.split()
    return {"words": len(words), "meetings": sum(w.lower().startswith("meeting") for w in words)}
