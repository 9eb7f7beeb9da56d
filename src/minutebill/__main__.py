"""``python -m minutebill``: the command line."""

from minutebill.cli import main

raise SystemExit(main())
