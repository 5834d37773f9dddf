"""Building and reading suppression inputs and results in the privacy tests."""

from collections.abc import Iterator

from orgpulse.privacy import Cell, Node, ShownCell, ShownNode


def leaf(*key: str, people: int, value: float | None = None) -> Node:
    return Node(cell=Cell(key=key, people=people, value=value))


def parent(*key: str, children: list[Node], value: float | None = None) -> Node:
    people = sum(child.cell.people for child in children)
    return Node(cell=Cell(key=key, people=people, value=value), children=tuple(children))


def shown_cells(node: ShownNode) -> Iterator[ShownCell]:
    yield node.cell
    for child in node.children:
        yield from shown_cells(child)


def by_key(node: ShownNode) -> dict[tuple[str, ...], ShownCell]:
    return {cell.key: cell for cell in shown_cells(node)}


def hidden(node: ShownNode) -> dict[tuple[str, ...], str | None]:
    """Map every suppressed cell's key to its reason."""
    return {cell.key: cell.reason for cell in shown_cells(node) if cell.suppressed}
