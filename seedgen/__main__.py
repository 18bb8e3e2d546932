"""``python -m seedgen`` runs the CLI."""

from seedgen.cli import main

main()
