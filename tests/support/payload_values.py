"""Awkward values the payload encoder must survive, shared by the encoder and decoder tests."""


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no")


def cycle_list():
    x = [1]
    x.append(x)
    return x


def cycle_dict():
    d = {"k": 1}
    d["self"] = d
    return d


def deep(n):
    top = cur = []
    for _ in range(n):
        cur.append([])
        cur = cur[0]
    return top
