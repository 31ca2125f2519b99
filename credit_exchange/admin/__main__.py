"""``python -m credit_exchange.admin`` is ``qianwei-hub``."""

import sys

from credit_exchange.admin.cli import main

sys.exit(main())
