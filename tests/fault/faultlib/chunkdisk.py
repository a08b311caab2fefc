"""Stored chunks on disk, in chunk files or volume records: the reader of
tests/integration/chunkdisk.py (one implementation for both suites),
loaded from its path so that faultlib needs nothing on sys.path."""

import importlib.util
import sys
from pathlib import Path

_NAME = "cairn_chunkdisk"
_PATH = Path(__file__).resolve().parents[2] / "integration" / "chunkdisk.py"

if _NAME in sys.modules:
    _module = sys.modules[_NAME]
else:
    _spec = importlib.util.spec_from_file_location(_NAME, _PATH)
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _module
    _spec.loader.exec_module(_module)

StoredChunk = _module.StoredChunk
chunk_file_paths = _module.chunk_file_paths
chunk_files = _module.chunk_files
file_data_offset = _module.file_data_offset
stored_chunks = _module.stored_chunks
volume_chunks = _module.volume_chunks
