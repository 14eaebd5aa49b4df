"""Response and request bodies of the JSON API (they are also its OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` plus where it sits in the whole list."""

    items: list[T]
    total: int = Field(description="Number of items matching the query, over all pages.")
    total_exact: bool = Field(
        True, description="False when counting stopped early: 'total' is then a lower bound."
    )
    has_more: bool | None = Field(None, description="True when a next page exists.")
    offset: int
    limit: int


class CollectionOut(BaseModel):
    project: str
    name: str
    type: str | None = None
    kind: str | None = Field(None, description="'artifact', or 'registry' for linked collections.")
    description: str | None = None
    created_at: str | None = None
    version_count: int | None = None


class CollectionsPage(Page[CollectionOut]):
    types: list[str] = Field(default_factory=list, description="Types present (for filters).")
    projects: list[str] = Field(default_factory=list, description="Projects present.")


class RunOut(BaseModel):
    id: str
    name: str | None = None
    label: str | None = Field(
        None,
        description="How the run is named everywhere (lineage, `artiflow show`, this page): "
        "'airflow: nightly.fit [run scheduled__1, try 2, map 3]'.",
    )
    orchestrator: str | None = None
    pipeline: str | None = None
    pipeline_run: str | None = None
    task: str | None = None
    try_number: int | None = None
    map_index: int | None = None
    host: str | None = None
    state: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    info: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class RunsPage(BaseModel):
    items: list[RunOut]
    total: int | None = Field(None, description="Not counted for runs (null).")
    has_more: bool = Field(description="True when a next page exists.")
    offset: int
    limit: int


class VersionOut(BaseModel):
    ref: str = Field(description="Pinned ref, e.g. 'default/bike-dataset:v3'.")
    project: str
    name: str
    version: str
    index: int
    type: str | None = None
    state: str | None = None
    digest: str | None = None
    size: int | None = None
    created_at: str | None = None
    aliases: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    semver: str | None = None
    description: str | None = None
    linked: str | None = Field(None, description="For a registry member: the version it links.")
    revision: int | None = Field(
        None,
        description="Raised by every edit of description, metadata, tags or aliases; the ETag "
        "of the version is '\"<version>.r<revision>\"' (send it as If-Match to PATCH).",
    )


class VersionDetail(VersionOut):
    metadata: dict[str, Any] = Field(default_factory=dict)
    file_count: int
    producer: RunOut | None = Field(None, description="The run that logged this version.")
    producers: list[RunOut] = Field(
        default_factory=list,
        description="Every run that logged this version: the one that created it, then each run "
        "whose re-log of the same content de-duplicated to it (as `artiflow show` lists them).",
    )
    consumers: list[RunOut] = Field(default_factory=list, description="Runs that used it.")
    quarantine: dict[str, Any] | None = Field(
        None, description="The active quarantine of this version (ref, reason, by, at), or null."
    )
    tainted_by: dict[str, Any] | None = Field(
        None, description="The nearest quarantined version upstream of it, or null."
    )


class EntryOut(BaseModel):
    path: str
    size: int | None = None
    digest: str | None = None
    ref: str | None = Field(None, description="URI of a reference entry (content not stored).")
    download: str = Field(description="Download URL, relative to the API root.")


class FilesPage(Page[EntryOut]):
    total_size: int = Field(description="Bytes over all files of the version.")
    file_count: int = Field(description="Files in the version (before the 'q' filter).")


class CollectionDetail(CollectionOut):
    version_count_exact: bool = Field(
        True, description="False when version_count stopped counting at 10,000 (10,000+)."
    )
    aliases: dict[str, str] = Field(
        default_factory=dict, description="Alias -> version ('production' -> 'v3')."
    )
    latest: VersionOut | None = None


class RunDetail(RunOut):
    used: list[VersionOut] = Field(default_factory=list)
    logged: list[VersionOut] = Field(default_factory=list)


class LineageNode(BaseModel):
    id: str
    kind: Literal["version", "run"]
    label: str
    sublabel: str | None = None
    ref: str | None = None
    project: str | None = None
    name: str | None = None
    version: str | None = None
    type: str | None = None
    aliases: list[str] = Field(default_factory=list)
    state: str | None = None
    run_id: str | None = None
    orchestrator: str | None = None
    pipeline: str | None = None
    task: str | None = None
    started_at: str | None = None


class LineageEdge(BaseModel):
    source: str
    target: str
    kind: str | None = Field(
        None,
        description="'logged' (run -> version), 'used' (version -> run) or 'link' "
        "(version -> the registry member linking it).",
    )


class LineageOut(BaseModel):
    root: str | None
    direction: str
    depth: int | None
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class AliasEventOut(BaseModel):
    alias: str
    version: str | None = Field(None, description="Version that got the alias; None = removed.")
    previous: str | None = Field(None, description="Version that held it before.")
    at: str | None = None
    run_id: str | None = None
    moved_by: str | None = Field(None, description="Who moved it (a user, run:<id>).")
    via: str | None = Field(None, description="How: web, cli, python, <orchestrator>:<task>.")


class UiConfig(BaseModel):
    allow_writes: bool
    artiflow_version: str | None = None


class ErrorOut(BaseModel):
    detail: Any = Field(description="What was wrong and what to do.")
    error: str | None = Field(None, description="The error class, e.g. 'ConflictError'.")


SELECTOR = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$"
TAG = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class AliasMove(BaseModel):
    version: str = Field(
        pattern=SELECTOR, description="Version (or alias/semver) that should get the alias."
    )
    expected: str | None = Field(
        None,
        pattern=r"^(v[0-9]{1,9}|none)$",
        description="Compare-and-set: move only if the alias is on this version now ('v3'), "
        "or not set ('none'); else 409 and nothing moves.",
    )


class VersionPatch(BaseModel):
    description: str | None = None
    metadata: dict[str, Any] | None = Field(
        None, description="JSON merge patch on the metadata: a null value deletes the key."
    )
    tags: list[Annotated[str, Field(pattern=TAG)]] | None = Field(
        None, max_length=1000, description="The full new list of tags."
    )


class LockEntryOut(BaseModel):
    ref: str = Field(description="The ref as the task asked for it (e.g. 'default/ds:production').")
    version_ref: str = Field(description="The version it resolved to the first time in the run.")
    task: str | None = Field(None, description="The task that resolved it first.")
    at: str


class ReplayOutputOut(BaseModel):
    replay_run: str
    original_run: str
    collection: str
    task: str | None = None
    version_ref: str
    digest: str
    original_version_ref: str | None = None
    original_digest: str | None = None
    reproduced: bool


class RunLockOut(BaseModel):
    orchestrator: str
    pipeline: str | None = None
    pipeline_run: str
    kept: bool
    kept_by: str | None = None
    kept_at: str | None = None
    kept_reason: str | None = None
    replay_of: str | None = Field(None, description="The pipeline run a replay resolved from.")
    created_at: str | None = None
    entries: list[LockEntryOut] = Field(default_factory=list)
    replays: list[ReplayOutputOut] = Field(default_factory=list)
