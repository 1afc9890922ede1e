import sys

from finradar.cli import main

sys.exit(main())
