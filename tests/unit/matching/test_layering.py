from __future__ import annotations

import subprocess
import sys


def test_matching_never_imports_storage_api_services_or_web() -> None:
    code = ("import sys, ayni.matching, ayni.matching.simulate, ayni.matching.behaviour; "
            "bad = [m for m in sys.modules if m.split('.')[:2] in "
            "(['ayni','storage'], ['ayni','api'], ['ayni','services'], ['ayni','web'])]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
