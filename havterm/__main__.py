"""Allow ``python -m havterm``."""

from havterm.cli import main

raise SystemExit(main())
