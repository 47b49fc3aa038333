"""Subcommands of ``bench``: one module each, found automatically; each defines ``register(subparsers)``."""
