"""``ArtiflowRegistry``: a Prefect Block that configures an artiflow registry.

The Prefect way to configure a service: save the connection once (UI, ``prefect block``, or
code) and load it by name in flows, deployments and workers, instead of exporting ``ARTIFLOW_*``
variables on every worker. The database URL and the storage options (access keys) are secrets:
Prefect stores them encrypted and shows them masked.

Register the block type with ``prefect block register -m artiflow.prefect`` (the
``prefect.collections`` entry point of the ``artiflow`` distribution also names this module).

``registry=`` of :func:`~artiflow.prefect.artifact_task`, :func:`~artiflow.prefect.promote`,
:func:`~artiflow.prefect.replay` and the example flows accepts a :class:`~artiflow.Registry`, an
``ArtiflowRegistry`` instance or a block document name (``"artiflow-registry/prod"``, or just
``"prod"``): see :func:`resolve_registry`.

Cloud credentials: when ``prefect-aws`` / ``prefect-gcp`` are installed, ``aws_credentials`` /
``gcp_credentials`` reference their ``AwsCredentials`` / ``GcpCredentials`` blocks; otherwise
they are secret dicts of fsspec options (``{"key": ..., "secret": ...}`` for s3fs,
``{"token": ...}`` for gcsfs). Either way they are merged over ``storage_options``.

Example:
    >>> from artiflow.prefect import ArtiflowRegistry
    >>> block = ArtiflowRegistry(database_url="sqlite:////tmp/af/registry.db",
    ...                          store_url="file:///tmp/af/store")
    >>> block.database_url.get_secret_value()
    'sqlite:////tmp/af/registry.db'
    >>> block.save("prod")                      # doctest: +SKIP
    >>> reg = ArtiflowRegistry.load("prod").get_registry()   # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

from prefect.blocks.core import Block
from prefect.types import SecretDict
from pydantic import Field, SecretStr

from artiflow import ArtiflowError, Registry

__all__ = [
    "BLOCK_TYPE_SLUG",
    "ArtiflowRegistry",
    "BlockNotFoundError",
    "block_document_name",
    "resolve_registry",
    "ui_url_of",
]

BLOCK_TYPE_SLUG = "artiflow-registry"

try:  # pragma: no cover - depends on the environment (not installed in the test venv)
    from prefect_aws import AwsCredentials as _AwsCredentials  # type: ignore[import-not-found]
except ImportError:
    _AwsCredentials = None
try:  # pragma: no cover - depends on the environment
    from prefect_gcp import GcpCredentials as _GcpCredentials  # type: ignore[import-not-found]
except ImportError:
    _GcpCredentials = None

_AwsField: Any = _AwsCredentials if _AwsCredentials is not None else SecretDict
_GcpField: Any = _GcpCredentials if _GcpCredentials is not None else SecretDict


class BlockNotFoundError(ArtiflowError, LookupError):
    """``registry="<name>"`` names no saved ``ArtiflowRegistry`` block."""


class ArtiflowRegistry(Block):
    """Where an artiflow registry lives: its metadata database, its blob store, the store's
    options. ``get_registry()`` opens it (lazily: nothing is connected until first use).

    Example:
        >>> block = ArtiflowRegistry(store_url="s3://ml-artifacts/registry",
        ...     storage_options={"endpoint_url": "http://127.0.0.1:9000"})
        >>> block.storage_options.get_secret_value()
        {'endpoint_url': 'http://127.0.0.1:9000'}
    """

    _block_type_name = "Artiflow Registry"
    _block_type_slug = BLOCK_TYPE_SLUG
    _description = (
        "An artiflow artifact registry: metadata database URL, blob store URL and storage "
        "options. Use it as registry= of artiflow.prefect.artifact_task."
    )
    _code_example = """```python
from artiflow.prefect import ArtiflowRegistry, artifact_task

registry = ArtiflowRegistry.load("BLOCK_NAME").get_registry()

@artifact_task(outputs={"model": "bike-model"}, registry="artiflow-registry/BLOCK_NAME")
def train(model): ...
```"""

    database_url: SecretStr | None = Field(
        default=None,
        title="Database URL",
        description=(
            "SQLAlchemy URL of the metadata database, e.g. "
            "postgresql+psycopg://user:password@db:5432/artiflow (ARTIFLOW_DB_URL)."
        ),
    )
    store_url: str | None = Field(
        default=None,
        title="Store URL",
        description="Where the blobs go: file:///..., s3://bucket/prefix, gs://... (ARTIFLOW_STORE_URL).",
    )
    storage_options: SecretDict = Field(
        default_factory=lambda: SecretDict({}),
        title="Storage options",
        description="fsspec options of the store as JSON, e.g. endpoint_url, key, secret.",
    )
    home: str | None = Field(
        default=None,
        description="ARTIFLOW_HOME: the default place of the database and store when unset.",
    )
    default_project: str | None = Field(default=None, description="The default project.")
    ui_url: str | None = Field(
        default=None,
        title="Web UI URL",
        description=(
            "Base URL of the artiflow web page (artiflow ui, or Airflow's /artiflow/): task runs "
            "get a link artifact to each version they produce (ARTIFLOW_UI_URL)."
        ),
    )
    aws_credentials: _AwsField | None = Field(
        default=None,
        title="AWS credentials",
        description=(
            "An AwsCredentials block (prefect-aws) or, without prefect-aws, s3fs options "
            "(key, secret, token, client_kwargs) merged over the storage options."
        ),
    )
    gcp_credentials: _GcpField | None = Field(
        default=None,
        title="GCP credentials",
        description=(
            "A GcpCredentials block (prefect-gcp) or, without prefect-gcp, gcsfs options "
            "(token, project) merged over the storage options."
        ),
    )

    def fsspec_options(self) -> dict[str, Any]:
        """The store's fsspec options: ``storage_options`` with the credentials merged over.

        Example:
            >>> ArtiflowRegistry(storage_options={"anon": False},
            ...     aws_credentials={"key": "AK", "secret": "S"}).fsspec_options()
            {'anon': False, 'key': 'AK', 'secret': 'S'}
        """
        options = dict(self.storage_options.get_secret_value() or {})
        options.update(_credential_options(self.aws_credentials, _aws_options))
        options.update(_credential_options(self.gcp_credentials, _gcp_options))
        return options

    def get_registry(self) -> Registry:
        """A :class:`~artiflow.Registry` for this configuration (``ARTIFLOW_*`` fill the gaps).

        Example:
            >>> import tempfile
            >>> reg = ArtiflowRegistry(home=tempfile.mkdtemp()).get_registry()
            >>> type(reg).__name__
            'Registry'
        """
        url = self.database_url.get_secret_value() if self.database_url is not None else None
        return Registry(
            db_url=url or None,
            store_url=self.store_url or None,
            home=self.home or None,
            default_project=self.default_project or None,
            storage_options=self.fsspec_options() or None,
        )


def _credential_options(value: Any, convert: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, SecretDict):
        return dict(value.get_secret_value() or {})
    if isinstance(value, dict):
        return dict(value)
    return convert(value)


def _secret(value: Any) -> Any:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


def _aws_options(creds: Any) -> dict[str, Any]:  # pragma: no cover - needs prefect-aws
    """s3fs options of a prefect-aws ``AwsCredentials`` block."""
    options: dict[str, Any] = {}
    if creds.aws_access_key_id:
        options["key"] = creds.aws_access_key_id
    if creds.aws_secret_access_key is not None:
        options["secret"] = _secret(creds.aws_secret_access_key)
    if creds.aws_session_token:
        options["token"] = creds.aws_session_token
    if creds.profile_name:
        options["profile"] = creds.profile_name
    client_kwargs: dict[str, Any] = {}
    if creds.region_name:
        client_kwargs["region_name"] = creds.region_name
    endpoint = getattr(getattr(creds, "aws_client_parameters", None), "endpoint_url", None)
    if endpoint:
        options["endpoint_url"] = str(endpoint)
    if client_kwargs:
        options["client_kwargs"] = client_kwargs
    return options


def _gcp_options(creds: Any) -> dict[str, Any]:  # pragma: no cover - needs prefect-gcp
    """gcsfs options of a prefect-gcp ``GcpCredentials`` block."""
    options: dict[str, Any] = {}
    if creds.service_account_info is not None:
        options["token"] = dict(_secret(creds.service_account_info))
    elif creds.service_account_file is not None:
        options["token"] = str(creds.service_account_file)
    if creds.project:
        options["project"] = creds.project
    return options


# ---------------------------------------------------------------------------------------------
# registry= values

_loaded: dict[str, Registry] = {}
_blocks: dict[str, ArtiflowRegistry] = {}
_loaded_lock = threading.Lock()


def block_document_name(name: str) -> str:
    """``"prod"`` → ``"artiflow-registry/prod"`` (a full ``<type>/<name>`` is kept).

    Example:
        >>> block_document_name("prod"), block_document_name("artiflow-registry/prod")
        ('artiflow-registry/prod', 'artiflow-registry/prod')
    """
    return name if "/" in name else f"{BLOCK_TYPE_SLUG}/{name}"


def _load_block(name: str) -> Any:
    slug, document = name.split("/", 1)

    def load() -> Any:
        if slug == BLOCK_TYPE_SLUG:
            return ArtiflowRegistry.load(document)
        return Block.load(name)  # another block type: refused by the caller

    try:
        import asyncio

        asyncio.get_running_loop()
    except RuntimeError:
        return load()
    # inside a running event loop (an async task) ``load`` would return a coroutine: load it
    # synchronously from a thread of its own
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(load).result()


def ui_url_of(value: Any) -> str | None:
    """The ``ui_url`` of the block a ``registry=`` value names (a block or a block name already
    loaded by :func:`resolve_registry`), else None.

    Example:
        >>> ui_url_of(ArtiflowRegistry(ui_url="http://127.0.0.1:8000/")), ui_url_of(None)
        ('http://127.0.0.1:8000/', None)
    """
    if isinstance(value, ArtiflowRegistry):
        return value.ui_url
    if isinstance(value, str):
        with _loaded_lock:
            block = _blocks.get(block_document_name(value))
        return block.ui_url if block is not None else None
    return None


def resolve_registry(value: Any) -> Registry:
    """The :class:`~artiflow.Registry` a ``registry=`` argument stands for.

    ``value`` is a Registry, an :class:`ArtiflowRegistry` block, a block document name
    (``"artiflow-registry/prod"`` or ``"prod"``; loaded once per process from the Prefect API),
    a callable returning one of these, or None (``Registry()`` from ``ARTIFLOW_*``).

    Example:
        >>> import tempfile
        >>> reg = resolve_registry(ArtiflowRegistry(home=tempfile.mkdtemp()))
        >>> resolve_registry(reg) is reg
        True
    """
    if value is None:
        return Registry()
    if isinstance(value, Registry):
        return value
    if isinstance(value, ArtiflowRegistry):
        return value.get_registry()
    if isinstance(value, str):
        name = block_document_name(value)
        with _loaded_lock:
            cached = _loaded.get(name)
        if cached is not None:
            return cached
        try:
            block = _load_block(name)
        except ValueError as exc:
            raise BlockNotFoundError(
                f"no ArtiflowRegistry block named {name!r} on the Prefect API: save one "
                f"(ArtiflowRegistry(...).save({name.split('/', 1)[1]!r})) or check "
                "PREFECT_API_URL"
            ) from exc
        if not isinstance(block, ArtiflowRegistry):
            raise BlockNotFoundError(
                f"{name!r} is a {type(block).__name__}, not an ArtiflowRegistry"
            )
        reg = block.get_registry()
        with _loaded_lock:
            _blocks.setdefault(name, block)
            return _loaded.setdefault(name, reg)
    if callable(value):
        return resolve_registry(value())
    raise TypeError(
        "registry= must be an artiflow Registry, an ArtiflowRegistry block, a block name "
        f"('artiflow-registry/prod') or a callable returning one, got {type(value).__name__}"
    )
