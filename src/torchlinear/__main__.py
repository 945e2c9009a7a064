"""``python -m torchlinear`` runs the command line."""

import sys

from torchlinear.cli import main

sys.exit(main())
