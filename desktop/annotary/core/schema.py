"""The JSON Schemas of the published formats, as written to resources/schema/."""

from __future__ import annotations

import json

from annotary.core.adjudication import Case, Decision
from annotary.core.coordination import RaterLabel, SignedCard
from annotary.core.formats import IdentityCard, Manifest
from annotary.core.items import Item
from annotary.core.labels import Label
from annotary.core.spec import Spec

PUBLISHED = {
    "spec.schema.json": Spec,
    "item.schema.json": Item,
    "label.schema.json": Label,
    "manifest.schema.json": Manifest,
    "identity-card.schema.json": IdentityCard,
    "signed-card.schema.json": SignedCard,
    "rater-label.schema.json": RaterLabel,
    "case.schema.json": Case,
    "decision.schema.json": Decision,
}


def schema_texts() -> dict[str, str]:
    out = {}
    for name, model in PUBLISHED.items():
        schema = model.model_json_schema()
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "$id": f"annotary/{name}", **schema}
        out[name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out
