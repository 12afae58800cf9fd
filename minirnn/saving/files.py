"""File handling every saved format shares: writing atomically (a temporary file beside the
target, then a rename over it, so an interrupted save leaves the previous file intact; the file
gets the permissions the umask allows, as open() would) and opening a zip archive warily."""
import os
import sys
import tempfile
import threading
import zipfile

__all__ = ["write_atomically", "open_zip"]

_UMASK_LOCK = threading.Lock()
# what zipfile raises for a file that is truncated, corrupt or not a zip at all
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError)


def _umask():
    """The process umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # elsewhere the only way is to set it and put it back; the lock keeps our own saves from
    # racing each other in the moment it is changed
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def write_atomically(filepath, write, suffix=""):
    """Call write(handle) on a temporary file beside `filepath`, then rename it over `filepath`:
    a save that fails halfway (or is interrupted) leaves the previous file as it was."""
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 is for the temporary file only
        os.replace(temporary, filepath)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _sync_directory(directory)


def _sync_directory(directory):
    """Make the rename durable; some systems cannot open a directory, and then it is skipped."""
    if sys.platform.startswith("win"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def open_zip(path, refusal):
    """zipfile.ZipFile(path); for a file that is not a readable zip, raise refusal(error) (an
    exception naming the file) instead of zipfile's own."""
    try:
        return zipfile.ZipFile(path)
    except _ZIP_ERRORS as error:
        raise refusal(error) from None
