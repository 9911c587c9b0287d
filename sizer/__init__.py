"""sizer: what hardware it takes to run an open-weight LLM, how to lay it out, and how fast it will be."""

__version__ = "0.1.0"
