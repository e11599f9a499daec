"""The ``deeprnn train | eval | generate`` subcommands (see deeprnn/cli.py for the contract)."""
