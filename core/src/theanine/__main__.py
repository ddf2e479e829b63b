"""`python -m theanine ...` is the `theanine` command."""

from theanine.cli import main

raise SystemExit(main())
