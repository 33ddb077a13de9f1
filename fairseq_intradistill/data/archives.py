"""Downloading and reading the corpora's ``.tgz`` archives, with errors that name the file.

A truncated or corrupt archive must stop a recipe with a message naming it, not half-way
through with a Python traceback, so every read goes through :func:`open_tar` /
:func:`read_member`, which turn ``tarfile``/``gzip``/``zlib`` errors into
:class:`ArchiveError`.  :func:`verify_archive` reads a whole archive once (gzip checks its
CRC and length at the end), which catches a download cut short even when no checksum is known.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import urllib.request
import zlib
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

from tqdm import tqdm

from fairseq_intradistill.textio import split_lines

_READ_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, gzip.BadGzipFile)


class ArchiveError(ValueError):
    """An archive or one of its members is missing, truncated or corrupt."""


def file_hash(path: Path, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """The hex digest of a file's bytes (``algorithm``: any name :func:`hashlib.new` takes), read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_archive(path: Path, sha256: Optional[str] = None, md5: Optional[str] = None) -> str:
    """Check ``path`` is a complete, readable tar.gz matching ``sha256``/``md5`` when given; return its sha256."""
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"{path}: no such archive")
    if path.stat().st_size == 0:
        raise ArchiveError(f"{path}: the archive is empty (an interrupted download?)")
    actual = file_hash(path)
    if sha256 and actual.lower() != sha256.lower():
        raise ArchiveError(f"{path}: checksum mismatch (sha256 {actual}, expected {sha256}); download it again")
    actual_md5 = file_hash(path, "md5") if md5 else None
    if md5 and actual_md5 != md5.lower():
        raise ArchiveError(f"{path}: checksum mismatch (md5 {actual_md5}, expected {md5}); download it again")
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                if member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        while handle.read(1 << 20):
                            pass
            read_to_end(tar, str(path))
    except _READ_ERRORS as e:
        raise ArchiveError(f"{path}: corrupt or truncated archive ({e}); download it again") from e
    return actual


def read_to_end(tar: tarfile.TarFile, name: str) -> None:
    """Read what is left of an open archive, so that gzip checks its CRC and length.

    ``tarfile`` stops at the first unreadable header as if the archive had ended, so a
    corrupt archive can look complete when only its members are iterated.
    """
    try:
        while tar.fileobj.read(1 << 20):
            pass
    except _READ_ERRORS as e:
        raise ArchiveError(f"{name}: corrupt or truncated archive ({e}); download it again") from e


def open_tar(source: Union[Path, bytes], name: str) -> tarfile.TarFile:
    """Open a tar(.gz) from a path or from bytes; ``name`` is what error messages call it."""
    try:
        if isinstance(source, bytes):
            return tarfile.open(fileobj=io.BytesIO(source), mode="r:*")
        return tarfile.open(source, "r:*")
    except FileNotFoundError as e:
        raise ArchiveError(f"{name}: no such archive") from e
    except _READ_ERRORS as e:
        raise ArchiveError(f"{name}: corrupt or truncated archive ({e})") from e


def member_names(tar: tarfile.TarFile, name: str) -> List[str]:
    """The regular files of ``tar``, after checking that the whole archive reads."""
    try:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    except _READ_ERRORS as e:
        raise ArchiveError(f"{name}: corrupt or truncated archive ({e})") from e
    read_to_end(tar, name)  # listing stops quietly at a corrupt header; the gzip CRC does not
    return names


def find_member(names: Sequence[str], suffix: str) -> Optional[str]:
    """The member whose path ends with ``/suffix`` (or is ``suffix``), or None."""
    for candidate in names:
        if candidate == suffix or candidate.endswith("/" + suffix):
            return candidate
    return None


def read_member(tar: tarfile.TarFile, member: str, name: str) -> bytes:
    """The bytes of ``member``; a read error names ``name:member``."""
    try:
        handle = tar.extractfile(member)
        if handle is None:
            raise ArchiveError(f"{name}: {member} is not a regular file")
        return handle.read()
    except KeyError as e:
        raise ArchiveError(f"{name}: no member {member}") from e
    except _READ_ERRORS as e:
        raise ArchiveError(f"{name}: corrupt or truncated archive while reading {member} ({e})") from e


def decode(data: bytes, name: str) -> List[str]:
    """UTF-8 text as lines, split on ``\\n`` only (see :mod:`fairseq_intradistill.textio`).

    A decoding error names the file.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ArchiveError(f"{name}: not UTF-8 text ({e})") from e
    return split_lines(text)


def download(
    urls: Iterable[str], target: Path, sha256: Optional[str] = None, manual_hint: str = "", md5: Optional[str] = None
) -> str:
    """Fetch the first URL that works into ``target`` (via a ``.part`` file), verify it, return its sha256.

    Without a known ``sha256`` the archive is still checked to be a complete tar.gz and the
    computed checksum is returned so that the caller can record it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    errors = []
    for url in urls:
        try:
            _fetch(url, part)
            digest = verify_archive(part, sha256, md5)
        except (OSError, ArchiveError) as e:
            errors.append(f"{url}: {e}")
            part.unlink(missing_ok=True)
            continue
        part.replace(target)
        return digest
    raise ArchiveError(
        f"could not download {target.name}:\n  " + "\n  ".join(errors) + (f"\n{manual_hint}" if manual_hint else "")
    )


def _fetch(url: str, target: Path) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "fairseq-intradistill"})
    with urllib.request.urlopen(request, timeout=60) as response, open(target, "wb") as out:
        content_type = response.headers.get("Content-Type", "")
        if content_type.startswith("text/html"):
            # Google Drive and mirrors answer an HTML page instead of the file when they refuse.
            raise OSError(f"the server answered a web page ({content_type}), not the archive")
        total = int(response.headers.get("Content-Length") or 0)
        # No bar for a quick download: it shows after 5 s.
        with tqdm(total=total or None, desc=f"  {target.name}", unit="B", unit_scale=True, delay=5) as bar:
            while True:
                block = response.read(1 << 20)
                if not block:
                    break
                out.write(block)
                bar.update(len(block))
