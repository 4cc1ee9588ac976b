"""The Python API: every name svp exports resolves, and ``import svp`` alone imports neither svp's modules nor
torch (they load when a name is first used)."""
from __future__ import annotations

import subprocess
import sys

import svp


def test_every_export_resolves():
    for name in svp.__all__:
        assert getattr(svp, name) is not None, name
    assert svp.register_model is svp.models.register and svp.register_dataset is svp.data.register
    assert set(svp.__all__) <= set(dir(svp))


def test_import_svp_is_light():
    code = "import sys, svp; print(sorted(m for m in sys.modules if m.split('.')[0] in ('svp', 'torch')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['svp']"
