"""`python -m sizer.calibrate`: the development-time calibration command (see sizer.calibration.command)."""

from sizer.calibration.command import main

if __name__ == "__main__":
    raise SystemExit(main())
