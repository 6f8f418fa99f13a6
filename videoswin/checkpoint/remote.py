"""Checkpoint URLs: downloaded once into torch's hub cache, then read like a local file.

The published recipes name their ImageNet weights by URL, and released Video Swin
checkpoints are tested as ``tools/test.py CONFIG URL``. :func:`fetch` turns an http(s)
URL into a local file that :func:`videoswin.checkpoint.io.safe_load` then reads, so a
downloaded file passes the same allow-list as any other.

Cache layout: ``<torch.hub.get_dir()>/checkpoints/<key>/<file name>``, where ``key`` is
the first 12 hex digits of the SHA-256 of the whole URL. The file keeps the name users
recognise, and two URLs that end in the same name never share an entry. ``TORCH_HOME``
(or ``torch.hub.set_dir``) moves the cache, as for torch.hub.

A name of the form ``stem-<hex>.ext`` (8 or more hex digits, torch.hub's ``check_hash``
convention, what ``tools/publish_model.py`` writes) is checked: the SHA-256 of the
download must start with those digits. The download goes to a temporary file in the
cache folder and is renamed into place only once complete and verified, so an
interrupted, truncated (shorter than its Content-Length) or wrong file never stays in
the cache.
"""
import hashlib
import http.client
import os
import os.path as osp
import re
import sys
import tempfile
import urllib.error
import urllib.request
from typing import Optional
from urllib.parse import unquote, urlparse

from mmengine.logging import print_log

URL_PREFIXES = ('http://', 'https://')
# torch.hub's check_hash convention, anchored at the end and at least 8 digits long so
# that an ordinary word before the extension ("-bad.pth") is not taken for a hash.
HASH_SUFFIX = re.compile(r'-([0-9a-f]{8,64})\.[^.]+$')
KEY_DIGITS = 12
TIMEOUT_S = 60
_CHUNK = 1 << 20


class CheckpointDownloadError(OSError):
    """A checkpoint URL could not be downloaded completely (nothing was cached)."""


def is_url(path: object) -> bool:
    """True for an http(s) URL."""
    return isinstance(path, str) and path.startswith(URL_PREFIXES)


def expand_path(path: object) -> str:
    """A URL as it is, a local path with ``~`` expanded."""
    return path if is_url(path) else osp.expanduser(str(path))


def cache_path(url: str, cache_dir: Optional[str] = None) -> str:
    """Where ``url`` is cached: ``<cache_dir>/<sha256(url)[:12]>/<file name>``."""
    if cache_dir is None:
        from torch.hub import get_dir
        cache_dir = osp.join(get_dir(), 'checkpoints')
    name = osp.basename(unquote(urlparse(url).path)) or 'checkpoint.pth'
    key = hashlib.sha256(url.encode('utf-8')).hexdigest()[:KEY_DIGITS]
    return osp.join(cache_dir, key, name)


def expected_hash_prefix(path: str) -> Optional[str]:
    """The SHA-256 prefix a ``name-<hex>.ext`` file name promises, or None."""
    found = HASH_SUFFIX.search(osp.basename(path))
    return found.group(1) if found else None


def _progress_bar(total: Optional[int], url: str):
    from tqdm import tqdm
    # disable=None: drawn on a terminal only, so logs and captured output stay clean
    return tqdm(total=total, unit='B', unit_scale=True, unit_divisor=1024, disable=None,
                desc=osp.basename(urlparse(url).path), file=sys.stderr)


def _copy_response(response, stream, url: str) -> str:
    """Copy the body to ``stream``; return its SHA-256. Short bodies are an error."""
    length = response.headers.get('Content-Length')
    total = int(length) if length and length.isdigit() else None
    digest, received = hashlib.sha256(), 0
    with _progress_bar(total, url) as bar:
        while True:
            block = response.read(_CHUNK)
            if not block:
                break
            stream.write(block)
            digest.update(block)
            received += len(block)
            bar.update(len(block))
    if total is not None and received != total:
        raise CheckpointDownloadError(
            f'could not download {url}: truncated, received {received} of {total} bytes')
    return digest.hexdigest()


def download(url: str, dst: str) -> None:
    """Download ``url`` to ``dst`` through a temporary file in the same folder.

    Raises:
        CheckpointDownloadError: HTTP error, unreachable host, a body shorter than its
            Content-Length, or a SHA-256 that does not match the name's hash prefix.
    """
    folder = osp.dirname(dst)
    os.makedirs(folder, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=folder, prefix='.', suffix='.partial')
    try:
        with os.fdopen(handle, 'wb') as stream:
            try:
                with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                    sha256 = _copy_response(response, stream, url)
            except urllib.error.HTTPError as error:
                raise CheckpointDownloadError(
                    f'could not download {url}: HTTP {error.code} {error.reason}') from None
            except urllib.error.URLError as error:  # no connection at all
                raise CheckpointDownloadError(
                    f'could not download {url}: {error.reason} (no network, or a wrong '
                    'address? download the file yourself and give its local path)') from None
            except CheckpointDownloadError:
                raise
            except (http.client.HTTPException, OSError, ValueError) as error:  # mid-transfer
                raise CheckpointDownloadError(f'could not download {url}: {error!r}') from None
        prefix = expected_hash_prefix(dst)
        if prefix and not sha256.startswith(prefix):
            raise CheckpointDownloadError(
                f'could not download {url}: its SHA-256 starts with {sha256[:len(prefix)]}, '
                f'but the file name promises {prefix} (a damaged or replaced file)')
        os.replace(partial, dst)
    finally:
        if osp.exists(partial):
            os.remove(partial)


def fetch(url: str) -> str:
    """The local cached copy of ``url``, downloaded first if needed (once per machine:
    in a distributed run the other ranks wait for rank 0)."""
    from mmengine.dist import barrier, get_dist_info
    cached = cache_path(url)
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(cached):
        print_log(f'downloading {url} to {cached}', logger='current')
        download(url, cached)
    if world_size > 1:
        barrier()
    if not osp.isfile(cached):  # another node's rank 0 downloaded it
        download(url, cached)
    return cached
