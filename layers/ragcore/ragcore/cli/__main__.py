import sys

from ragcore.cli.commands import main

sys.exit(main())
