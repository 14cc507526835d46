"""`python -m n3instrument` runs the `namel3ss` command."""
import sys

from n3instrument.cli import main

if __name__ == "__main__":
    sys.exit(main())
