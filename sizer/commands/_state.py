"""What the root group passes to every command (`ctx.obj`); here so commands need not import the CLI root."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CliState"]


@dataclass(frozen=True, slots=True)
class CliState:
    """What the root group passes to every command (`ctx.obj`)."""

    catalog_paths: tuple[str, ...] = ()  # --catalog options, in order
    debug: bool = False

    @property
    def overlays(self) -> tuple[str, ...]:
        """SIZER_CATALOG overlays, then --catalog ones (a later overlay wins)."""
        from sizer.catalog.loading import overlay_paths_from_env

        return (*overlay_paths_from_env(), *self.catalog_paths)
