"""Bundle file formats: the manifest and the records that travel inside a bundle."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from annotary.core.errors import MAX_INT32

FORMAT_NAME = "annotary-bundle"
FORMAT_VERSION = 1

BundleKind = Literal["tasks", "results", "adjudication", "decisions"]
Role = Literal["annotator", "reviewer", "coordinator"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Producer(Model):
    name: str = Field(min_length=1, max_length=200)
    role: Role
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$", description="First 16 hex digits of SHA-256 of the raw public key")
    public_key: str = Field(description="Raw 32-byte Ed25519 public key, base64")


class Member(Model):
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0, le=2**40)


class Manifest(Model):
    """manifest.json; manifest.sig is the raw Ed25519 signature of its exact bytes."""

    format: Literal["annotary-bundle"] = FORMAT_NAME
    version: int = Field(ge=0, le=MAX_INT32, description="Format version; readers refuse versions they do not know")
    kind: BundleKind
    bundle_id: str = Field(min_length=8, max_length=64)
    project_id: str = Field(min_length=1, max_length=64)
    project_name: str
    round: int = Field(1, ge=1, le=MAX_INT32)
    created_at: datetime
    producer: Producer
    members: list[Member] = Field(max_length=1000)
    counts: dict[str, Annotated[int, Field(ge=0, le=MAX_INT32)]] = Field(default_factory=dict, description="Records per member, for display")
    instance_id: str | None = Field(
        None, pattern=r"^[0-9a-f]{32}$",
        description="The project instance the bundle belongs to: a random id made when the coordinator "
                    "created the project, so two projects with the same project_id are told apart. Absent "
                    "from bundles written before instances existed and from task bundles built without a "
                    "project; a merge then checks only the project id, as it did before")
    coordinator_key_id: str | None = Field(
        None, pattern=r"^[0-9a-f]{16}$",
        description="Key id of the coordinator of that project instance; present exactly when instance_id is")

    @model_validator(mode="after")
    def _instance_whole(self) -> Manifest:
        if (self.instance_id is None) != (self.coordinator_key_id is None):
            raise ValueError("instance_id and coordinator_key_id go together: both or neither")
        return self


class IdentityCard(Model):
    """The public half of an identity: what travels to others."""

    name: str = Field(min_length=1, max_length=200)
    role: Role
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    public_key: str
    created_at: datetime
