"""`python -m analyzer` and the frozen `n3analyze` executable start here."""
import sys

from analyzer.cli import main

if __name__ == "__main__":
    sys.exit(main())
