import sys
from pathlib import Path

# this folder's helper modules (_tables, _capped) are imported by name
sys.path.insert(0, str(Path(__file__).resolve().parent))
