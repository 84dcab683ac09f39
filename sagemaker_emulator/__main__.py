from sagemaker_emulator.cli import main

raise SystemExit(main())
