"""``python -m copyalign``: the command line, for a machine where the ``copyalign`` script is not on PATH."""

from copyalign.cli.main import main

if __name__ == "__main__":
    main()
