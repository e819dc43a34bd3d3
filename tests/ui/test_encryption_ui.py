"""Confidential bundles in the window: the choice to encrypt in the assign and adjudication forms and
in the annotator's export, encrypted task bundles opened, and the key's passphrase asked once."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from annotary.bundles.sealed import is_sealed
from annotary.ops import identity as identity_ops
from annotary.ops.roster import export_card
from annotary.ops.sealing import Encryption
from annotary.ops.tasks import build_task_bundle
from annotary.paths import resources_dir
from annotary.ui.dialogs import unlock_for_session
from tests.coordinator.conftest import world  # noqa: F401 - the coordinator's world, built once
from tests.ui.test_workspace import drop, press
from tests.ui.test_workspace_coordinator import card, cho_window, project  # noqa: F401 - fixtures

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
DEMO = resources_dir() / "demo"


@pytest.fixture(autouse=True)
def fresh_session():
    identity_ops.forget_passphrase()
    yield
    identity_ops.forget_passphrase()


def test_the_workspace_forms_offer_encryption(qtbot, cho_window, asker, project, world, tmp_path):  # noqa: F811
    window = cho_window
    drop(window, [project])
    reviewer, reviewer_card = card(tmp_path, "Rae Vu", "reviewer")
    asker.forms.append({"cards": [str(reviewer_card)]})
    press(qtbot, window, Qt.Key.Key_R, CTRL)
    drop(window, world.results)
    # the conflicts to the reviewer, encrypted (Ctrl+Shift+R)
    asker.forms.append({"audit": 0.0, "encrypt": True})
    press(qtbot, window, Qt.Key.Key_R, CTRL | SHIFT)
    assert asker.errors == [], asker.errors
    encrypt = next(f for f in asker.forms_shown[-1][1] if f.key == "encrypt")
    assert encrypt.kind == "bool" and encrypt.default is False  # the project is not confidential
    assert "reviewer and you" in encrypt.label
    out = project.parent / "adjudication" / "demo-pairwise-round1-review.annotary"
    assert is_sealed(out) and "encrypted to Rae Vu, Coordinator Cho" in asker.infos[-1]
    # round 2, encrypted to each annotator (Ctrl+Shift+A)
    asker.forms.append({"overlap": 3, "encrypt": True})
    press(qtbot, window, Qt.Key.Key_A, CTRL | SHIFT)
    assert asker.errors == [], asker.errors
    assert any(f.key == "encrypt" for f in asker.forms_shown[-1][1])
    bundles = sorted((project.parent / "round-2").glob("*.annotary"))
    assert bundles and all(is_sealed(b) for b in bundles)
    assert "Each bundle is encrypted: only its annotator and you can open it." in asker.infos[-1]


def test_an_annotator_opens_an_encrypted_bundle_and_chooses_how_results_go_back(
        qtbot, window, asker, identity, coordinator, tmp_path):
    ada_card = tmp_path / "ada.card.json"
    export_card(identity=identity, out=ada_card)
    bundle = tmp_path / "round1.annotary"
    build_task_bundle(spec_path=DEMO / "spec.toml", items_paths=[DEMO / "items.jsonl"], out=bundle,
                      identity=coordinator, encryption=Encryption(encrypt_to=[ada_card]))
    assert is_sealed(bundle)
    window.import_bundle(bundle)
    assert asker.errors == [], asker.errors
    assert window.labeling is not None and window.labeling.flow.info.id == "demo-pairwise"
    asker.confirm_answer = True  # nothing submitted yet: export anyway
    # encrypted by default, as the task bundle came
    sealed = tmp_path / "sealed.annotary"
    asker.forms.append({})
    asker.paths.append(str(sealed))
    window.export_results()
    title, fields = asker.forms_shown[-1]
    assert fields[0].key == "encrypt" and fields[0].default is True
    assert "Coordinator Cho" in fields[0].label
    assert is_sealed(sealed) and "encrypted to Coordinator Cho" in asker.infos[-1]
    # unticked: signed only
    plain = tmp_path / "plain.annotary"
    asker.forms.append({"encrypt": False})
    asker.paths.append(str(plain))
    window.export_results()
    assert plain.read_bytes()[:4] == b"PK\x03\x04"
    # cancelled: nothing written
    skipped = tmp_path / "skipped.annotary"
    asker.paths.append(str(skipped))
    window.export_results()
    assert not skipped.exists()


def test_a_plaintext_project_exports_without_asking(qtbot, window, asker, demo_bundle, tmp_path):
    window.import_bundle(demo_bundle)
    asker.confirm_answer = True
    out = tmp_path / "r.annotary"
    asker.paths.append(str(out))
    shown = len(asker.forms_shown)
    window.export_results()
    assert len(asker.forms_shown) == shown
    assert out.read_bytes()[:4] == b"PK\x03\x04"


class PassphraseAsker:
    def __init__(self, answers):
        self.answers, self.asked = list(answers), []

    def passphrase(self, wrong=False):
        self.asked.append(wrong)
        return self.answers.pop(0) if self.answers else None


def test_the_passphrase_is_asked_until_it_unlocks_then_kept_for_the_session(identity, monkeypatch):
    monkeypatch.delenv("ANNOTARY_PASSPHRASE", raising=False)
    identity_ops.change_passphrase("correct horse")
    identity_ops.forget_passphrase()
    assert identity_ops.require_identity().protected
    asker = PassphraseAsker(["wrong horse", "correct horse"])
    assert unlock_for_session(asker)
    assert asker.asked == [False, True]  # the second time it says the first was wrong
    identity_ops.set_passphrase_prompt(None)
    identity_ops.require_identity().sign(b"signed without asking again")
    # cancelled: not unlocked, nothing kept
    identity_ops.forget_passphrase()
    assert not unlock_for_session(PassphraseAsker([]))
    with pytest.raises(Exception, match="protected by a passphrase"):
        identity_ops.require_identity().sign(b"x")
