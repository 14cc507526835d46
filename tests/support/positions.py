"""Where text sits in a source string, so tests compute expected locations instead of copying them."""


def at(source: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the nth occurrence of `needle` in `source`."""
    index = -1
    for _ in range(nth):
        index = source.index(needle, index + 1)
    line = source.count("\n", 0, index) + 1
    return line, index - (source.rfind("\n", 0, index) + 1) + 1
