"""``python -m torchlinear`` runs the command line."""

import os
import sys

from torchlinear.cli import main

if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # a torchrun worker
    from torchlinear.distributed import record

    main = record(main)

sys.exit(main())
