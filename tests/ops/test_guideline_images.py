"""Guidelines travel with their pictures inside the signed bundle; nothing else is loaded."""

import json

import pytest

from annotary.core.errors import SpecError
from annotary.flows.labeling import LabelingFlow
from annotary.ops.importing import import_tasks
from annotary.ops.tasks import build_task_bundle
from annotary.paths import resources_dir
from tests.conftest import pairwise_spec

PNG = bytes.fromhex("89504e470d0a1a0a") + b"fake but carried byte for byte"


def build(tmp_path, coordinator, markdown, files=None):
    (tmp_path / "img").mkdir(exist_ok=True)
    for name, data in (files or {}).items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "guidelines.md").write_text(markdown)
    (tmp_path / "spec.json").write_text(json.dumps(pairwise_spec()))
    out = tmp_path / "t.annotary"
    build_task_bundle(spec_path=tmp_path / "spec.json", items_paths=[resources_dir() / "demo" / "items.jsonl"],
                      out=out, identity=coordinator)
    return out


def test_images_travel_and_reach_the_flow(tmp_path, coordinator, store, identity):
    md = "# Scale\n\n![the scale](img/scale.png)\n\n![remote](https://example.com/x.png)\n"
    out = build(tmp_path, coordinator, md, {"img/scale.png": PNG})
    import_tasks(store, out, trust_new_key=True)
    flow = LabelingFlow(store, "test-project", identity.key_id)
    assert flow.guideline_images() == {"img/scale.png": PNG}


@pytest.mark.parametrize("link, message", [
    ("img/missing.png", "not found beside the guidelines"),
    ("../secret.png", "must be a relative path"),
    ("/etc/passwd.png", "must be a relative path"),
    ("notes.txt", "must be a relative path"),
])
def test_bad_image_links_are_refused(tmp_path, coordinator, link, message):
    with pytest.raises(SpecError, match=message):
        build(tmp_path, coordinator, f"![x]({link})\n")
