"""Where a report goes, checked before any work: never over an existing file or folder, and only where
its folder can be made.

A report is built in a hidden folder beside its destination and renamed into place; a failed solve writes a
diagnostics file beside it. So before any solve: every name the run will create there (each folder still
to be made, the hidden partial folder, the diagnostics file) must fit the file system's longest name
(NAME_MAX, 255 bytes on most), the whole path its longest path, and a folder must really be creatable in the
nearest folder that exists: a probe folder is made and removed there at once, which catches what
permissions alone do not say (a read-only or virtual file system such as /proc, a full disk's inode table).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from data.errors import FedsplitError

PARTIAL_MARK = ".partial-"
DIAGNOSTICS_SUFFIX = ".failed-diagnostics.log"  # written beside a report that a failed solve did not write
DEFAULT_NAME_MAX = 255
DEFAULT_PATH_MAX = 4096
INSIDE_MARGIN = 64  # the longest path inside a report (input/<workbook>, lemma3_kkt.csv, ...), with room to spare


class ReportDestinationError(FedsplitError):
    """The report cannot go where it was asked to go; checked before any work."""


class ReportExistsError(ReportDestinationError):
    pass


def refuse_existing(destination: Path) -> Path:
    """The destination, if no file or folder is there yet; a report never overwrites one."""
    destination = Path(destination)
    if destination.exists() or destination.is_symlink():
        raise ReportExistsError(f"the report folder {destination} already exists; choose another out=... or remove it")
    return destination


def check_destination(destination: Path) -> Path:
    """Refuse, before any work, a destination that exists, whose names are too long for its file system (with
    the partial folder's and the diagnostics file's made beside it), or where no folder can be made: its
    nearest existing parent a file, not writable, or refusing a probe folder."""
    destination = Path(destination)
    siblings = [f"{partial_prefix(destination.name)}XXXXXXXX", f"{destination.name}{DIAGNOSTICS_SUFFIX}"]
    problem = name_problem(destination, siblings)  # first: looking up a name too long fails
    if problem is None:
        refuse_existing(destination)
        problem = folder_problem(destination)
    if problem:
        raise ReportDestinationError(f"cannot write the report folder {destination}: {problem}")
    return destination


def partial_prefix(name: str) -> str:
    """The hidden folder a report is built in: this, then 8 random characters (tempfile.mkdtemp)."""
    return f".{name}{PARTIAL_MARK}{os.getpid()}-"


def nearest_existing(path: Path) -> Path:
    """The closest of `path` and its parents that exists (a name too long to look up counts as missing)."""
    for candidate in (path, *path.parents):
        try:
            os.stat(candidate)
            return candidate
        except OSError:
            continue
    return Path(path.anchor or ".")


def name_problem(destination: Path, siblings: list[str]) -> str | None:
    """Why a name on the way to `destination` is too long for its file system, if one is: a folder still to
    be made, or the report's own name once the longest of `siblings` (names made beside it) is built from it."""
    absolute = Path(os.path.abspath(destination))
    existing = nearest_existing(absolute)
    name_max = _limit(existing, "PC_NAME_MAX", DEFAULT_NAME_MAX)
    folders = absolute.relative_to(existing).parts if absolute != existing else ()
    for name in folders[:-1]:
        if len(os.fsencode(name)) > name_max:
            return (f"the folder name '{_cut(name)}' is {len(os.fsencode(name))} bytes long and this file system "
                    f"allows {name_max} per name")
    own = len(os.fsencode(absolute.name))
    longest = max(siblings, key=lambda name: len(os.fsencode(name)), default=absolute.name)
    extra = max(0, len(os.fsencode(longest)) - own)
    if own + extra > name_max:
        return (f"its name is {own} bytes long, and '{_cut(longest)}', made beside it while the report is "
                f"built, {own + extra}; this file system allows {name_max} bytes per name: choose an out=... "
                f"whose last part has at most {name_max - extra} bytes")
    path_max = _limit(existing, "PC_PATH_MAX", DEFAULT_PATH_MAX)
    longest_path = len(os.fsencode(str(absolute.parent / longest))) + 1 + INSIDE_MARGIN
    if longest_path > path_max:
        return (f"its files' paths would be up to {longest_path} bytes long and this file system allows "
                f"{path_max}: choose an out=... closer to the root")
    return None


def folder_problem(destination: Path) -> str | None:
    """Why no folder can be made for `destination` in its nearest existing parent, if none can: that parent is
    a file, not writable, or refuses a probe folder (made and removed at once)."""
    parent = nearest_existing(Path(os.path.abspath(destination)).parent)
    if not parent.is_dir():
        return f"{parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"no permission to write in {parent}"
    try:
        probe = tempfile.mkdtemp(prefix=".fedsplit-probe-", dir=parent)
    except OSError as error:
        return f"no folder can be made in {parent} ({error.strerror or errno.errorcode.get(error.errno, error)})"
    os.rmdir(probe)
    return None


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(folder, name))
    except (OSError, ValueError):
        return default


def _cut(name: str, longest: int = 40) -> str:
    return f"{name[:longest]}..." if len(name) > longest else name
