"""``python -m vidact.cli ARGS`` is ``vidact ARGS`` (as ``python -m vidact ARGS`` is)."""

from vidact.cli import main

if __name__ == "__main__":
    main()
