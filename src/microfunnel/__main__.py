"""``python -m microfunnel``: the same as the ``microfunnel`` command."""

from microfunnel.cli import main

main()
