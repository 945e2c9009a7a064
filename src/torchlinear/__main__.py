"""``python -m torchlinear`` runs the command line."""

import os
import sys

try:
    from torchlinear.cli import main
except KeyboardInterrupt:  # Ctrl-C while starting: one line, no traceback
    print("torchlinear: interrupted", file=sys.stderr)
    sys.exit(130)

if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # a torchrun worker
    from torchlinear.distributed import record

    main = record(main)

sys.exit(main())
