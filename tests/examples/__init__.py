"""Every script in examples/ runs under the test suite; helpers to import them as modules."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BILLING_PAGE = EXAMPLES / "billing_page"


@cache
def load_example(path: Path) -> ModuleType:
    """Import the example script at `path` as a module; its siblings import as they do when run.

    The script's directory is on ``sys.path`` only while it is imported (a script run with
    ``python`` has it there too).
    """
    name = f"minutebill_example_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - the path is ours
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def billing_page() -> ModuleType:
    """``examples/billing_page/serve.py`` as a module: `build_app`, `render_page`, `make_server`."""
    return load_example(BILLING_PAGE / "serve.py")
