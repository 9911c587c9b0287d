"""`python -m sizer` runs the command line."""

from sizer.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    main()
