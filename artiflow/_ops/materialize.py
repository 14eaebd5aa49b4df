"""Materialise versions on local disk (download, checkout, verify), never escaping the root.

The rules (user-facing: docs/guarantees.md, "Downloads and checkouts never escape their folder"):

- The root may itself be a symbolic link to a folder: the caller named it, so it is followed
  (a link to nothing, or to a file, is refused).
- Inside the root nothing is written through a symbolic link. A linked folder on the way to an
  entry makes ``download()`` raise :class:`InvalidPathError` naming the link, before anything is
  written; ``checkout()``, whose promise is "root ends up exactly the version", replaces the
  link by a real folder (it removes the link, never what the link points to). A linked file at an
  entry path is replaced by the file (written beside it and renamed over the link), never
  written through. ``verify()`` reports both (``("symlink", path)``) without reading through them,
  except links into the registry's own store or cache (``link_type="symlink"`` makes those).
- A file standing where the manifest needs a folder, or a folder where it needs a file, makes
  ``download()`` raise :class:`StoreError` (an ``OSError``) before anything is written;
  ``checkout()`` removes it (it is not part of the version, so checkout would delete it anyway).
- ``checkout()`` deletes what is not in the version, so it refuses (before anything is
  written) the file-system root, the user's home, any folder that holds the current folder, any
  folder that holds the registry's home, database, store or download cache, and any folder
  inside the store or the cache. The current folder itself is allowed when the checkout would
  delete nothing there (an empty folder, or one holding only entry paths of the version).

All checks run once per folder, not once per file; a new root (written into a private folder
renamed into place) needs none of them.

Example:
    >>> import tempfile, os
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("notes")
    >>> with draft.new_file("sub/a.txt") as f:
    ...     _ = f.write("hi")
    >>> v = reg.log(draft)
    >>> root = tempfile.mkdtemp()
    >>> os.symlink(tempfile.mkdtemp(), os.path.join(root, "sub"))
    >>> v.download(root)
    Traceback (most recent call last):
    ...
    artiflow.exceptions.InvalidPathError: cannot write 'sub/a.txt' under ...
    >>> v.checkout(root) == Path(root).absolute(), os.path.islink(os.path.join(root, "sub"))
    (True, False)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat as stat_mod
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import InvalidPathError, StoreError, VerificationError
from ..hashing import hash_file
from ..manifest import Entry, normalize_path
from ..store import SMALL_BLOB, copy_new_small, link_or_copy
from .parallel import parallel

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..version import ArtifactVersion

__all__ = [
    "checkout",
    "download",
    "download_entries",
    "entry_pages",
    "local_blob",
    "materialize",
    "materialize_new",
    "verify",
]

Progress = Callable[[int], object] | None
ENTRY_PAGE = 10_000  # entries read at a time by download, checkout and verify (~10 MiB)
_S_ISDIR, _S_ISLNK = stat_mod.S_ISDIR, stat_mod.S_ISLNK


# ---- entries, a page at a time -------------------------------------------------------------
def entry_pages(reg: RegistryContext, version: ArtifactVersion) -> Iterator[list[Entry]]:
    """The entries of ``version`` sorted by path, :data:`ENTRY_PAGE` at a time, read from the
    catalog page by page (:meth:`Catalog.entry_pages`): what a 1,000,000-file version costs
    in memory is one page, not every row at once.

    Example:
        >>> # sum(len(page) for page in entry_pages(ctx, version)) == version.file_count
    """
    return reg.catalog.entry_pages(version.id, size=ENTRY_PAGE, bind=version)


# ---- blobs ------------------------------------------------------------------------------------
def local_blob(reg: RegistryContext, digest: str) -> str:
    """A local path holding the blob ``digest``: the store's own file, or the download cache's
    copy of a remote blob (fetched on first use)."""
    return reg.download_cache.local_copy(reg.store, digest)


# ---- the way to every entry -----------------------------------------------------------------
def _folders(paths: Iterable[str]) -> list[str]:
    """Every folder (relative, ``/``-separated) that entries need, parents before children."""
    found: set[str] = set()
    for p in paths:
        head = p.rpartition("/")[0]
        while head and head not in found:
            found.add(head)
            head = head.rpartition("/")[0]
    return sorted(found, key=lambda f: (f.count("/"), f))


def _scan(
    base: str, folders: Sequence[str], state: dict[str, tuple[str, str] | None] | None = None
) -> dict[str, tuple[str, str] | None]:
    """For each folder: None when it is a real folder, else ``(kind, where)`` with kind
    ``missing``, ``symlink`` or ``file`` and ``where`` the first folder on the way that is so.
    One ``lstat`` per folder; nothing below a missing, linked or file folder is looked at.
    ``state``: what an earlier call found (the parents of ``folders`` not among them), updated
    and returned."""
    if state is None:
        state = {}
    for folder in folders:
        up = folder.rpartition("/")[0]
        above = state.get(up) if up else None
        if above is not None:
            state[folder] = above
            continue
        try:
            st = os.lstat(os.path.join(base, folder))
        except FileNotFoundError:
            state[folder] = ("missing", folder)
            continue
        if _S_ISDIR(st.st_mode):
            state[folder] = None
        elif _S_ISLNK(st.st_mode):
            state[folder] = ("symlink", folder)
        else:
            state[folder] = ("file", folder)
    return state


def _link_target(path: str) -> str:
    with contextlib.suppress(OSError):
        return os.readlink(path)
    return "?"


def _prepare(
    base: str, items: Sequence[Entry], dests: dict[str, str], *, replace: bool
) -> dict[str, os.stat_result]:
    """Check the way to every entry under the existing folder ``base`` and return the ``lstat``
    of every entry path that exists. ``replace=False`` (download): a linked folder, a file where
    a folder is needed or a folder where a file is needed raises before anything is written.
    ``replace=True`` (checkout): they are removed (links themselves, never their targets), once
    everything was looked at."""
    state = _scan(base, _folders(e.path for e in items))
    doomed: list[tuple[str, bool]] = []  # (path, is a real folder)
    for folder, why in state.items():
        if why is None or why[1] != folder or why[0] == "missing":
            continue
        full = os.path.join(base, folder)
        if replace:
            doomed.append((full, False))
            continue
        needing = next(e.path for e in items if e.path.startswith(folder + "/"))
        if why[0] == "symlink":
            raise InvalidPathError(
                f"cannot write {needing!r} under {base!r}: {folder!r} is a symbolic link (to "
                f"{_link_target(full)!r}) and artiflow never writes through a link out of the "
                "folder it was given (nothing was written). Remove the link, download into "
                "another folder, or use checkout(), which replaces the link by a real folder"
            )
        raise StoreError(
            f"cannot write {needing!r} under {base!r}: {folder!r} is a file where the version "
            "needs a folder (nothing was written). Move or remove that file, download into "
            "another folder, or use checkout(), which removes what is not in the version"
        )
    present: dict[str, os.stat_result] = {}
    lstat = os.lstat
    for e in items:
        parent = e.path.rpartition("/")[0]
        if parent and state[parent] is not None:
            continue  # below a folder that is missing or about to be replaced: nothing there
        dest = dests[e.path]
        try:
            st = lstat(dest)
        except FileNotFoundError:
            continue
        if _S_ISDIR(st.st_mode):
            if replace:
                doomed.append((dest, True))
                continue
            raise StoreError(
                f"cannot write {e.path!r} under {base!r}: a folder is in the way (nothing was "
                "written). Move or remove that folder, download into another folder, or use "
                "checkout(), which removes what is not in the version"
            )
        present[dest] = st
    for path, is_dir in doomed:
        if is_dir:
            shutil.rmtree(path)
        else:
            os.unlink(path)  # a link or a file: never what a link points to
    return present


def _root_exists(base: Path) -> bool:
    """Whether the root folder exists (following a root that is itself a link); raise a clear
    error when it cannot be a folder."""
    try:
        st = os.lstat(base)
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        raise _file_in_the_way(base) from None
    if _S_ISLNK(st.st_mode):
        try:
            st = os.stat(base)
        except OSError:
            raise InvalidPathError(
                f"cannot write into {os.fspath(base)!r}: it is a symbolic link to "
                f"{_link_target(os.fspath(base))!r}, which does not exist (nothing was written). "
                "Create the folder it points to, remove the link, or use another folder"
            ) from None
    if not _S_ISDIR(st.st_mode):
        raise StoreError(
            f"cannot write into {os.fspath(base)!r}: it is a file, not a folder (nothing was "
            "written). Move or remove it, or use another folder"
        )
    return True


def _file_in_the_way(base: Path) -> StoreError:
    for parent in base.absolute().parents:
        if os.path.lexists(parent) and not os.path.isdir(parent):
            return StoreError(
                f"cannot write into {os.fspath(base)!r}: {os.fspath(parent)!r} is a file, not a "
                "folder (nothing was written). Move or remove it, or use another folder"
            )
    return StoreError(f"cannot create the folder {os.fspath(base)!r}: a file is in the way")


# ---- writing -----------------------------------------------------------------------------------
def _up_to_date(
    entry: Entry,
    dest: str,
    present: dict[str, os.stat_result],
    known: dict[str, str],
    hashed: list[tuple[str, os.stat_result, str]],
    progress: Progress,
) -> bool:
    """True when ``dest`` already holds ``entry`` (the stat cache, else one hash, says so)."""
    st = present.get(dest)
    if st is None or entry.digest is None or st.st_size != (entry.size or 0):
        return False
    if _S_ISLNK(st.st_mode):  # a link is replaced, never trusted or written through
        return False
    digest = known.get(dest)
    if digest is None:
        digest = hash_file(dest)[0]
        hashed.append((dest, st, digest))
    if digest != entry.digest:
        return False
    if progress is not None:
        progress(entry.size or 0)
    return True


def _write(
    ctx: RegistryContext, entry: Entry, dest: str, *, fresh: bool, progress: Progress
) -> None:
    """Write one entry to ``dest``: a reference is fetched, a blob linked or copied."""
    if entry.ref is not None:
        from ..references import download_reference

        download_reference(entry, Path(dest))
        if progress is not None:
            progress(entry.size or 0)
        return
    assert entry.digest is not None
    store = ctx.store
    src = store.path(entry.digest) if store.is_local else local_blob(ctx, entry.digest)
    try:
        link_or_copy(
            src,
            dest,
            ctx.settings.link_type,
            entry.digest,
            progress=progress,
            size=entry.size,
            parent_exists=True,
            direct=fresh,
        )
    except FileNotFoundError:
        if os.path.exists(src):
            raise
        raise StoreError(
            f"blob {entry.digest} ({entry.path!r}) is missing from store {store.url!r}: "
            "the store lost content the registry references; restore it or re-log the artifact"
        ) from None


def _prefetch(
    ctx: RegistryContext,
    items: Sequence[Entry],
    dests: dict[str, str],
    present: dict[str, os.stat_result],
) -> None:
    """Fetch the blobs a remote store must supply into the local cache, in bulk, in parallel."""
    wanted = {
        e.digest
        for e in items
        if e.ref is None
        and e.digest is not None
        and not (dests[e.path] in present and present[dests[e.path]].st_size == (e.size or 0))
    }
    if wanted:
        ctx.store.get_many(wanted, ctx.download_cache)


def _copy_small_new(
    ctx: RegistryContext, items: Sequence[Entry], dests: dict[str, str], progress: Progress
) -> list[Entry]:
    """Copy small stored files into a new folder in one tight loop; returns the other items."""
    store = ctx.store
    jobs: list[tuple[str, str, str, int | None]] = []
    rest: list[Entry] = []
    for e in items:
        if e.ref is None and e.digest is not None and (e.size or 0) <= SMALL_BLOB:
            jobs.append((store.path(e.digest), dests[e.path], e.digest, e.size))
        else:
            rest.append(e)
    copy_new_small(jobs, store.url, progress)
    return rest


def materialize(
    reg: RegistryContext,
    items: Sequence[Entry],
    base: Path,
    progress: Progress = None,
    *,
    fresh: bool = False,
    replace: bool = False,
    made: set[str] | None = None,
) -> None:
    """Write ``items`` under the folder ``base``, every file verified.

    ``fresh=True``: ``base`` is a new private folder (see :func:`materialize_new`): nothing is
    there to compare with or to check, and files are written in place instead of beside +
    renamed. Otherwise the way to every entry is checked first (see :func:`_prepare`;
    ``replace=True`` for a checkout). ``made``: the folders an earlier page of the same
    download created (updated here), so each is made once.
    """
    base_s = os.fspath(base)
    dests = {e.path: os.path.join(base_s, normalize_path(e.path)) for e in items}
    present: dict[str, os.stat_result] = {}
    if not fresh:
        present = _prepare(base_s, items, dests, replace=replace)
    known = reg.stat_cache.lookup(present, present) if present else {}
    started = time.time_ns()
    hashed: list[tuple[str, os.stat_result, str]] = []

    def one(entry: Entry) -> None:
        dest = dests[entry.path]
        if not _up_to_date(entry, dest, present, known, hashed, progress):
            _write(reg, entry, dest, fresh=fresh, progress=progress)

    # every destination folder once, not once per file
    folders = {os.path.dirname(d) for d in dests.values()}
    if made is not None:
        folders -= made
        made |= folders
    for folder in sorted(folders):
        os.makedirs(folder, exist_ok=True)
    if not reg.store.is_local:
        _prefetch(reg, items, dests, present)
    rest: Sequence[Entry] = items
    if fresh and reg.settings.link_type == "copy" and reg.store.is_local:
        rest = _copy_small_new(reg, items, dests, progress)  # the common case, in a tight loop
    parallel(one, list(rest), sum(e.size or 0 for e in rest), reg.counters)
    if hashed:
        reg.stat_cache.store(hashed, hashed_at_ns=started)


def materialize_new(
    reg: RegistryContext,
    items: Sequence[Entry] | Callable[[], Iterable[Sequence[Entry]]],
    base: Path,
    progress: Progress = None,
) -> None:
    """Write ``items`` into the folder ``base``, which does not exist yet: all of it or nothing.

    ``items``: the entries, or a function returning them page by page (:func:`entry_pages`):
    then one page is in memory at a time.

    The files are written into a hidden sibling folder that is renamed to ``base`` once every
    file is in it and verified, so a crash or a bad blob never leaves a half-written folder,
    and no file needs a rename of its own. If ``base`` appears meanwhile (another process
    downloading the same version), the download goes into it file by file instead.
    """
    pages = items if callable(items) else lambda: [items]
    parent = base.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise _file_in_the_way(base) from None
    tmp = parent / f".{base.name}.artiflow-{os.getpid()}-{threading.get_ident()}-{time.time_ns()}"
    os.mkdir(tmp)
    try:
        made: set[str] = set()
        for page in pages():
            materialize(reg, page, tmp, progress, fresh=True, made=made)
        try:
            os.rename(tmp, base)
            return
        except OSError:
            if not os.path.isdir(base):
                raise
        # another writer made base first: compare with what it holds, file by file
        materialize(reg, [e for page in pages() for e in page], base)
    finally:
        if os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def download_entries(
    reg: RegistryContext,
    version: ArtifactVersion,
    items: list[Entry],
    root: str | os.PathLike[str] | None,
    progress: Progress = None,
    *,
    replace: bool = False,
) -> Path:
    """Write ``items`` of ``version`` under ``root`` (default ``version.default_root()``):
    a new root is written whole then renamed into place; an existing one is checked first."""
    base = Path(root) if root is not None else version.default_root()
    if not _root_exists(base):
        materialize_new(reg, items, base, progress=progress)
    else:
        materialize(reg, items, base, progress=progress, replace=replace)
    version.local_path = base.absolute()
    return version.local_path


def download(
    reg: RegistryContext,
    version: ArtifactVersion,
    root: str | os.PathLike[str] | None,
    progress: Progress = None,
) -> Path:
    """Download every entry of ``version`` under ``root`` (default ``version.default_root()``).

    Into a new folder the entries are read and written a page at a time (:func:`entry_pages`),
    so memory does not grow with the number of files; an existing folder is checked whole
    first (nothing is written when the way to an entry is blocked), which needs every entry
    at once."""
    base = Path(root) if root is not None else version.default_root()
    if _root_exists(base):
        items = list(version.manifest.entries.values())
        return download_entries(reg, version, items, base, progress)
    materialize_new(reg, lambda: entry_pages(reg, version), base, progress=progress)
    version.local_path = base.absolute()
    return version.local_path


# ---- checkout ---------------------------------------------------------------------------------
def _inside(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or below it (both real, absolute)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _registry_places(reg: RegistryContext) -> list[tuple[str, str, bool]]:
    """``(what, real path, refuse below it too)`` for the registry's own files and folders."""
    settings = reg.settings
    places = [
        ("home", os.fspath(settings.home), False),
        ("download cache", os.fspath(settings.cache_dir), True),
    ]
    store = reg.store
    if store.is_local:
        places.append(("store", os.fspath(store.root), True))
    url = settings.db_url
    if url.startswith("sqlite") and ":///" in url:
        db = url.split(":///", 1)[1].split("?", 1)[0]
        if db and db != ":memory:":
            places.append(("database", db, False))
    return [(what, os.path.realpath(p), below) for what, p, below in places]


def _guard(reg: RegistryContext, version: ArtifactVersion, root: str | os.PathLike[str]) -> str:
    """Refuse a checkout root whose extra files must never be deleted; return its real path."""
    target = os.path.realpath(root)
    why = None
    if os.path.dirname(target) == target:
        why = "the file-system root"
    if why is None:
        with contextlib.suppress(RuntimeError, KeyError):
            home = os.path.realpath(Path.home())
            if _inside(home, target):
                why = (
                    "your home folder"
                    if home == target
                    else f"a folder that holds your home {home!r}"
                )
    cwd = os.path.realpath(os.getcwd())
    if why is None and cwd != target and _inside(cwd, target):
        why = f"a folder that holds the current folder {cwd!r}"
    if why is None:
        for what, place, below in _registry_places(reg):
            if _inside(place, target):
                why = f"a folder that holds the registry's {what} {place!r}"
            elif below and _inside(target, place):
                why = f"inside the registry's {what} {place!r}"
            if why:
                break
    if why is not None:
        raise InvalidPathError(
            f"refusing to check out {version.ref} into {os.fspath(root)!r} ({target!r}): it is "
            f"{why}, and checkout deletes every file there that is not in the version (nothing "
            f"was written or deleted). Check out into a folder of its own, e.g. "
            f"{os.fspath(version.default_root())!r}, or use download(), which never deletes"
        )
    return target


def _extras(base: str, wanted: Iterable[str]) -> list[str]:
    """What a checkout into ``base`` would delete (files, links, folders not on an entry's way)."""
    wanted_set = set(wanted)
    keep = set(_folders(wanted_set))
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):
        rel_dir = os.path.relpath(dirpath, base).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        for f in filenames:
            if prefix + f not in wanted_set:
                out.append(prefix + f)
        for d in list(dirnames):
            rel = prefix + d
            if rel not in keep or os.path.islink(os.path.join(dirpath, d)):
                out.append(rel)
                dirnames.remove(d)
    return sorted(out)


def checkout(reg: RegistryContext, version: ArtifactVersion, root: str | os.PathLike[str]) -> Path:
    """Make ``root`` exactly ``version``: download what differs, remove everything else.

    Refuses (:class:`InvalidPathError`, before anything is written or deleted) a root whose
    other files must never be deleted, see the module docstring."""
    real = _guard(reg, version, root)
    base = Path(root)
    if not _root_exists(base):  # a new folder: nothing to replace or delete
        return download(reg, version, base)
    entries = version.manifest.entries
    if real == os.path.realpath(os.getcwd()):
        doomed = _extras(os.fspath(base), entries)
        if doomed:
            listing = ", ".join(repr(p) for p in doomed[:5])
            more = f" and {len(doomed) - 5} more" if len(doomed) > 5 else ""
            raise InvalidPathError(
                f"refusing to check out {version.ref} into the current folder {real!r}: checkout "
                f"would delete {listing}{more}, which are not in the version (nothing was written "
                "or deleted). Check out into a folder of its own, move those files away, or use "
                "download(), which never deletes"
            )
    out = download_entries(reg, version, list(entries.values()), base, replace=True)
    wanted = set(entries)
    for dirpath, dirnames, filenames in os.walk(base, topdown=False):
        for f in filenames:
            full = os.path.join(dirpath, f)
            rel = os.path.relpath(full, base).replace(os.sep, "/")
            if rel not in wanted:
                os.unlink(full)
        for d in dirnames:
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                os.unlink(full)  # the link only, never what it points to
            elif not os.listdir(full):
                os.rmdir(full)
    return out


# ---- verify -----------------------------------------------------------------------------------
def _entry_problem(
    base: str, entry: Entry, own: Sequence[str], changed: Callable[[Entry], bool]
) -> tuple[str, str] | None:
    """What is wrong with ``entry``'s file under ``base`` (None: nothing). A link is fine only
    into the registry's own places ``own`` (the store, the download cache)."""
    full = os.path.join(base, entry.path)
    try:
        st = os.lstat(full)
    except OSError:
        return ("missing", entry.path)
    if _S_ISLNK(st.st_mode):
        if not any(_inside(os.path.realpath(full), place) for place in own):
            return ("symlink", entry.path)
        try:
            st = os.stat(full)
        except OSError:
            return ("missing", entry.path)
    if not stat_mod.S_ISREG(st.st_mode):
        return ("missing", entry.path)
    if entry.size is not None and st.st_size != entry.size:
        return ("changed", entry.path)
    if entry.digest is not None and hash_file(full)[0] != entry.digest:
        return ("changed", entry.path)
    if entry.is_reference and changed(entry):
        return ("reference changed", entry.path)
    return None


def _walk(base: str, keep: set[str], linked: set[str]) -> tuple[int, list[tuple[str, str]]]:
    """``(files, extras)``: how many files (anything but a folder) are under ``base``, and the
    linked folders there no entry needs (``extra``)."""
    files = 0
    out: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(base):
        files += len(filenames)
        rel_dir = os.path.relpath(dirpath, base).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        for d in dirnames:
            rel = prefix + d
            if rel not in keep and rel not in linked and os.path.islink(os.path.join(dirpath, d)):
                out.append(("extra", rel))  # a linked folder no entry needs
    return files, out


def _extra_files(
    reg: RegistryContext, base: str, version: ArtifactVersion
) -> list[tuple[str, str]]:
    """The files under ``base`` no entry of ``version`` names (one more pass over its entries:
    only when the counts say there are some)."""
    walked: set[str] = set()
    for dirpath, _dirnames, filenames in os.walk(base):
        rel_dir = os.path.relpath(dirpath, base).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        walked.update(prefix + f for f in filenames)
    for page in entry_pages(reg, version):
        walked.difference_update(e.path for e in page)
    return [("extra", path) for path in walked]


def _check_page(
    base: str,
    page: Sequence[Entry],
    state: dict[str, tuple[str, str] | None],
    linked: set[str],
    check: Callable[[Entry], tuple[str, str] | None],
) -> tuple[list[tuple[str, str]], int]:
    """``(problems, listed)`` of one page of entries: ``listed`` counts the entries whose file
    is there as a file (what a walk of ``base`` lists), so the walk needs no set of paths."""
    if os.path.isdir(base):
        _scan(base, [f for f in _folders(e.path for e in page) if f not in state], state)
    problems: list[tuple[str, str]] = []
    todo: list[Entry] = []
    for entry in page:
        parent = entry.path.rpartition("/")[0]
        why = state.get(parent) if parent else None
        if why is None:
            todo.append(entry)
        elif why[0] == "symlink":
            linked.add(why[1])
        else:  # a missing folder, or a file where the folder should be (reported as extra)
            problems.append(("missing", entry.path))
    # references may ask a remote store (latency-bound): one thread each; files go through
    # ``parallel``, which runs small files in one loop and big ones in chunks per pool job
    # (a future per 1 KiB file cost more than hashing it)
    refs = [e for e in todo if e.is_reference]
    files = [e for e in todo if not e.is_reference] if refs else todo
    found = parallel(check, files, sum(e.size or 0 for e in files))  # counters: log/get only
    if refs:
        with ThreadPoolExecutor(max_workers=min(8, len(refs))) as pool:
            found.extend(pool.map(check, refs))
    listed = 0
    for p in found:
        if p is None:
            listed += 1
        else:
            problems.append(p)
            listed += p[0] not in ("missing", "symlink")  # changed: a file all the same
    return problems, listed


def verify(reg: RegistryContext, version: ArtifactVersion, root: str | os.PathLike[str]) -> None:
    """Raise :class:`VerificationError` listing every missing, changed or extra file under
    ``root``, every symbolic link on the way to an entry (``symlink``; links into the
    registry's store or cache, as ``link_type="symlink"`` makes them, are fine) and every
    reference whose remote identity changed. Nothing is read through a link out of the root.

    The entries are read a page at a time (:func:`entry_pages`): memory does not grow with
    the number of files. Extra files are found by counting: when the
    walk of ``root`` finds as many files as entries were found there, there are none; only
    otherwise are the walked paths compared with the entries."""
    from ..references import changed

    base_s = os.fspath(root)
    own = [place for what, place, _ in _registry_places(reg) if what in ("store", "download cache")]
    problems: list[tuple[str, str]] = []
    state: dict[str, tuple[str, str] | None] = {}
    linked: set[str] = set()
    listed = 0

    def check(entry: Entry) -> tuple[str, str] | None:
        return _entry_problem(base_s, entry, own, changed)

    for page in entry_pages(reg, version):
        found, n = _check_page(base_s, page, state, linked, check)
        problems.extend(found)
        listed += n
    problems.extend(("symlink", link) for link in sorted(linked))
    if os.path.isdir(base_s):
        files, extras = _walk(base_s, set(state) - linked, linked)
        problems.extend(extras)
        if files != listed:
            problems.extend(_extra_files(reg, base_s, version))
    if problems:
        problems.sort(key=lambda p: (p[1], p[0]))
        listing = "; ".join(f"{kind}: {path}" for kind, path in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise VerificationError(
            f"{base_s!r} does not match {version.ref}: {listing}{more}. "
            f"Run `artiflow get {version.ref} -o {base_s}` or version.checkout(root) to restore it",
            problems,
        )
