"""`sizer detect`: this machine's GPUs, RAM and CPU, and their catalog matches."""

from __future__ import annotations

import click

from sizer.commands._options import format_option

__all__ = ["detect_command"]


@click.command("detect")
@format_option()
def detect_command(fmt: str) -> None:
    """Report this machine's GPUs (NVIDIA via nvidia-ml-py, AMD via rocm-smi or sysfs, Apple via
    sysctl), host RAM and CPU, with the catalog entry each GPU matches."""
    from sizer.machine.detection import detect
    from sizer.render.machine_report import render_detect

    click.echo(render_detect(detect(), fmt), nl=False)
