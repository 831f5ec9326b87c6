"""SPDX 3.0.1 documents read as JSON-LD (rdflib), with the context the official bindings define.

No package ships ``https://spdx.org/rdf/3.0.1/spdx-context.jsonld`` and tests never download,
so the context is rebuilt from ``spdx-python-model``: its classes and properties are generated
from the same SPDX model as the published context, each with the compact term the context
defines. Terms a document uses but the context does not define would be dropped silently by a
JSON-LD processor; ``undefined_terms`` finds them.
"""

import json
from typing import Any

import rdflib
from spdx_python_model.bindings.v3_0_1 import model

CONTEXT_URL = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"


def _term(iri: str, prop: Any) -> dict[str, Any]:
    while isinstance(prop, model.ListProp):
        prop = prop.prop
    if isinstance(prop, model.EnumProp):  # a named individual, by its compact name
        return {"@id": iri, "@type": "@vocab", "@context": {compact: full for full, compact in prop.context}}
    if isinstance(prop, model.IRIProp):  # another element, by its spdxId (or a blank node)
        return {"@id": iri, "@type": "@id"}
    return {"@id": iri}


def context() -> dict[str, Any]:
    terms: dict[str, Any] = {"spdxId": "@id", "type": "@type"}
    for cls in set(model.SHACLObject.CLASSES.values()):
        if cls._COMPACT_TYPE:
            terms[cls._COMPACT_TYPE] = cls._TYPE
        for compact, declared in cls._OBJ_COMPACT_PROPS.items():
            # the bindings build a property on first use, then keep it (and drop its builder)
            terms[compact] = _term(declared.iri, declared.prop if declared.reg is None else declared.reg())
    return terms


def undefined_terms(document: dict[str, Any], terms: dict[str, Any]) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.update(k for k in node if not k.startswith("@") and k not in terms)
            found.update(v for k, v in node.items() if k == "type" and v not in terms)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document.get("@graph", []))
    return found


def graph(document: dict[str, Any]) -> rdflib.Graph:
    """The document's RDF triples; its ``@context`` must name the SPDX 3.0.1 context."""
    assert document["@context"] == CONTEXT_URL
    return rdflib.Graph().parse(data=json.dumps({**document, "@context": context()}), format="json-ld")
