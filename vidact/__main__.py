"""``python -m vidact ARGS`` is ``vidact ARGS``; it is also how torchrun starts training processes:
``torchrun --nproc_per_node=2 -m vidact train RECIPE ...``."""

from vidact.cli import main

if __name__ == "__main__":
    main()
