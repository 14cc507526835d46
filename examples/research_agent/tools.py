"""Python tools of the research agent: a tiny offline corpus and a notebook."""

CORPUS = {
    "quantum error correction": [
        "Surface codes protect logical qubits with a 2D lattice of physical qubits.",
        "Break-even: a logical qubit that outlives its best physical qubit was shown in 2023.",
    ],
    "fusion energy": [
        "Ignition was first reached at the National Ignition Facility in December 2022.",
    ],
}

NOTES: list[str] = []


def search(query: str, limit: int = 3) -> dict:
    """Return the corpus passages whose topic shares a word with the query."""
    words = set(query.lower().split())
    hits = [p for topic, passages in CORPUS.items() if words & set(topic.split()) for p in passages]
    return {"query": query, "results": hits[:limit]}


def save_note(text: str) -> dict:
    NOTES.append(text)
    return {"saved": True, "count": len(NOTES)}
