"""Shared fixtures for bundle tests: identities made once per test in a temp folder."""

import pytest

from annotary.bundles.identity import create_identity


@pytest.fixture
def signer(tmp_path):
    return create_identity(tmp_path / "me", name="Coordinator Cora", role="coordinator")


@pytest.fixture
def stranger(tmp_path):
    return create_identity(tmp_path / "stranger", name="Mallory", role="annotator")
