"""``python -m gru_core forecast FILE.csv ...``: the command line (see gru_core/cli.py)."""
import sys

from gru_core.cli import main

sys.exit(main())
