"""`python -m trainwell ...` is the `trainwell` command (what torchrun starts: `torchrun ... -m trainwell train`)."""
import sys

from trainwell.cli import main

if __name__ == "__main__":
    sys.exit(main())
