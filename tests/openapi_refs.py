"""Every `$ref` in an OpenAPI document must resolve, or schema-driven clients and fuzzers
cannot read the operation (they may also skip it silently, as schemathesis did)."""

from collections.abc import Iterator


def refs_in(node) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def resolves(document: dict, ref: str) -> bool:
    if not ref.startswith("#/"):
        return False
    target = document
    for part in ref[2:].split("/"):
        if not isinstance(target, dict) or part not in target:
            return False
        target = target[part]
    return True


def unresolvable_refs(document: dict) -> list[str]:
    return sorted({ref for ref in refs_in(document) if not resolves(document, ref)})
