import sys

from foot_traffic.cli import main

sys.exit(main())
