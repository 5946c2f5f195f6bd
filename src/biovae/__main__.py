import sys

from biovae.cli.main import main

sys.exit(main())
