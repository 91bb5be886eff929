"""Saving into the models folder a whole class shares: safe names, and never another's file.

Names keep their meaning (Unicode letters and digits stay) but cannot leave the folder.
Files appear whole and at once (written under a hidden temporary name, then linked or
renamed), and a name that is taken by a file this session did not write is left alone: the
save goes to the next free ``name-2``, ``name-3``…, so two sessions (or two servers)
saving at once never clobber each other. The folder has a quota (``RAGVIZ_MAX_MODELS_FILES``
files, ``RAGVIZ_MAX_MODELS_MB`` in all), so one student cannot fill the class's disk.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from ragviz.safety.errors import CheckpointError
from ragviz.safety.limits import get_limits, size_text

_NAME_PUNCTUATION = frozenset("._ -")
_RUNS_OF_UNDERSCORES = re.compile(r"_{2,}")
MAX_NAME_CHARS = 80
MAX_NAME_BYTES = 200
MAX_NAME_TRIES = 1000


def safe_file_name(name: str, suffix: str = ".safetensors") -> str:
    """A file name that cannot leave its folder and keeps what the name says.

    NFKC-normalised; Unicode letters and digits stay (``模型`` stays ``模型``); separators,
    control, bidi and zero-width characters and other punctuation become ``_``; no dots in
    front; at most 80 characters and 200 UTF-8 bytes. A name with nothing left becomes
    ``checkpoint`` (saving then picks a unique name if that is taken).
    """
    text = unicodedata.normalize("NFKC", str(name))
    kept = "".join(ch if ch in _NAME_PUNCTUATION or unicodedata.category(ch)[0] in "LN" else "_" for ch in text)
    base = _RUNS_OF_UNDERSCORES.sub("_", kept).strip(" ._")
    if base.endswith(suffix):
        base = base[: -len(suffix)].rstrip(" ._")
    base = _truncate(base, MAX_NAME_CHARS, MAX_NAME_BYTES).rstrip(" ._") or "checkpoint"
    return base + suffix


def _truncate(text: str, max_chars: int, max_bytes: int) -> str:
    text = text[:max_chars]
    while len(text.encode("utf-8")) > max_bytes:
        text = text[:-1]
    return text


def atomic_write(path: str | Path, data: bytes) -> Path:
    """Write to a temporary file in the same folder, then rename: no half-written files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_copy(path.parent, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return path


def _temporary_copy(folder: Path, data: bytes) -> Path:
    """The whole file under a hidden temporary name in ``folder`` (galleries skip dot files)."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _unlink_quietly(Path(tmp))
        raise
    return Path(tmp)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _numbered(file_name: str, k: int) -> str:
    """``ring.safetensors`` -> ``ring-2.safetensors`` for k = 2."""
    stem, dot, suffix = file_name.rpartition(".")
    return f"{stem}-{k}{dot}{suffix}" if dot else f"{file_name}-{k}"


def _is_own_file(path: Path, own: Mapping[str, bytes]) -> bool:
    """A regular file (not a link) that still holds exactly what this session wrote there."""
    written = own.get(path.name)
    if written is None:
        return False
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size != len(written):
            return False
        return path.read_bytes() == written
    except OSError:
        return False


def _claim(tmp: Path, target: Path) -> bool:
    """Give the finished temporary file the name ``target`` only if nobody has that name yet.

    A hard link fails when the name exists, atomically; where links are not supported, an
    exclusive create reserves the name and the file is then renamed onto that reservation.
    """
    try:
        os.link(tmp, target)
        return True
    except FileExistsError:
        return False
    except OSError:
        pass
    try:
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    os.replace(tmp, target)
    return True


def folder_usage(folder: Path, suffix: str = ".safetensors") -> tuple[int, int]:
    """(files, bytes) of the checkpoints in ``folder`` (regular, visible files; temporary ones skipped)."""
    files = size = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith(suffix) and not entry.name.startswith(".") and entry.is_file(follow_symlinks=False):
                files += 1
                size += entry.stat(follow_symlinks=False).st_size
    return files, size


def check_quota(folder: Path, adding: int, replacing: int | None = None) -> None:
    """Refuse a save that would take the folder past its quota of files or bytes.

    ``replacing`` is the size of the file this save overwrites (None: a new file). A soft quota:
    two saves at the same instant may both fit alone and pass it by one file together.
    """
    lim = get_limits()
    files, size = folder_usage(folder)
    new_files = files + (replacing is None)
    new_size = size + adding - (replacing or 0)
    advice = ("Delete old checkpoints from the models folder, or download this one instead. (The server's "
              "administrator can raise the limit with {}.)")
    if new_files > lim.models_files:
        raise CheckpointError(f"the models folder holds {files:,} checkpoints, its limit is {lim.models_files:,}. "
                              + advice.format("RAGVIZ_MAX_MODELS_FILES"))
    if new_size > lim.models_bytes:
        raise CheckpointError(f"the models folder would hold {size_text(new_size)}, its limit is "
                              f"{size_text(lim.models_bytes)}. " + advice.format("RAGVIZ_MAX_MODELS_MB"))


def save_to_folder(folder: str | Path, name: str, data: bytes, own: Mapping[str, bytes] | None = None) -> Path:
    """Save checkpoint bytes inside ``folder`` under a safe name, never over someone else's file.

    ``own`` maps the file names this session saved to the bytes it wrote: such a file, if it
    is still exactly that, is replaced atomically. Any other name that is taken (by another
    session, another server, a link) is left alone and the next free ``name-2``, ``name-3``…
    is used; the returned path says which. Two savers at once never get the same name. A save
    past the folder's quota (:func:`check_quota`) is refused with a CheckpointError.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    folder = folder.resolve()
    base = safe_file_name(name)
    own = own or {}
    if not _is_own_file(folder / base, own):
        check_quota(folder, len(data))  # before a byte is written
    tmp = _temporary_copy(folder, bytes(data))
    try:
        for k in range(1, MAX_NAME_TRIES + 1):
            target = folder / (base if k == 1 else _numbered(base, k))
            if target.parent != folder:
                raise CheckpointError("Refusing to write outside the models folder.")
            if _is_own_file(target, own):
                check_quota(folder, len(data), replacing=len(own[target.name]))
                os.replace(tmp, target)
                return target
            if _claim(tmp, target):
                return target
    finally:
        _unlink_quietly(tmp)
    raise CheckpointError(f"The models folder already has {MAX_NAME_TRIES} checkpoints named like "
                          f"'{base}'; choose another name.")
