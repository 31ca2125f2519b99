"""What admins and IT staff run from a shell: the ``qianwei-hub`` command and its subcommands.

The top layer: it may use everything below it (runtime, web) and is used by nothing in the core.
Each subcommand lives in its own module and offers ``register(subparsers)``; ``cli.COMMANDS``
lists them in the order ``qianwei-hub --help`` shows them.
"""
