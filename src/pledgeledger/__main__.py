"""``python -m pledgeledger``: the ``pledgeledger`` command, for when its script is not on PATH."""

from pledgeledger.cli import main

if __name__ == "__main__":
    main(prog_name=None)
