"""Hub ids that fail fast: a model named by hub id loads from this machine's Hugging Face cache when it is there,
with no network at all; otherwise from the hub, after one short check that the hub answers.

Why not HF_HUB_OFFLINE for the process: it would also stop a hub model that is not cached yet from downloading
on a machine that is online. Why the check: with no hub, from_pretrained retries for tens of seconds before it
fails, on every question that asks for the model again; one request with a short timeout, remembered for a while,
turns that into one line in the affected column.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

from fourpaths.config import is_local
from fourpaths.errors import FourpathsError, one_line

CHECK_TIMEOUT_S = 3.0
REMEMBER_S = 60.0  # how long an answer about the hub holds, so a machine that comes online is noticed

_checked: dict[str, tuple[float, str | None]] = {}
_lock = threading.Lock()


def loading_options(location: str) -> dict[str, object]:
    """from_pretrained's extra arguments for `location`: none for a local folder, local_files_only for a hub id
    already in the cache; FourpathsError in one line when the hub id is not cached and cannot be downloaded."""
    if is_local(location):
        return {}
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(location, "config.json"), str):
        return {"local_files_only": True}
    where = f"hub model {location} is not in this machine's Hugging Face cache ({constants.HF_HUB_CACHE})"
    if constants.HF_HUB_OFFLINE:
        raise FourpathsError(f"{where} and HF_HUB_OFFLINE is set: download it while online, or use a local folder")
    problem = hub_problem(constants.ENDPOINT)
    if problem:
        raise FourpathsError(f"{where} and the hub cannot be reached ({problem}): download it on a machine online, "
                             "or use a local folder")
    return {}


def hub_problem(endpoint: str) -> str | None:
    """Why the hub at `endpoint` cannot be reached, or None when it answers (any HTTP status is an answer)."""
    now = time.monotonic()
    with _lock:
        known = _checked.get(endpoint)
        if known is not None and now - known[0] < REMEMBER_S:
            return known[1]
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=CHECK_TIMEOUT_S).close()
        problem = None
    except urllib.error.HTTPError:
        problem = None
    except (urllib.error.URLError, OSError, ValueError) as error:
        problem = f"{endpoint}: {one_line(getattr(error, 'reason', None) or error)}"
    with _lock:
        _checked[endpoint] = (time.monotonic(), problem)
    return problem
