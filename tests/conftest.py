"""Suite-wide guards: no test writes into the user's ~/.cache or opens a connection off this machine.

Every test gets its own ``$VIDACT_HOME`` (weights cache, dataset frame indices) and runs with
``VIDACT_OFFLINE=1``; the weights tests that download switch it off and point ``VIDACT_WEIGHTS_MIRROR`` at an
HTTP server on 127.0.0.1 that they run themselves.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _private_home_and_offline(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    home = tmp_path_factory.mktemp("vidact_home")
    monkeypatch.setenv("VIDACT_HOME", str(home))
    monkeypatch.setenv("VIDACT_OFFLINE", "1")
    monkeypatch.delenv("VIDACT_WEIGHTS_MIRROR", raising=False)
    yield
    # A test's weights cache can hold hundreds of MB: free it at once (the suite writes GBs otherwise).
    shutil.rmtree(home, ignore_errors=True)
