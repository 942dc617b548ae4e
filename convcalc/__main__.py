from convcalc.cli import main

raise SystemExit(main())
