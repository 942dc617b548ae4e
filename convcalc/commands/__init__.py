"""One module per command area; each exposes ``register(subparsers)``.

Kept import-light: argparse at module level only, the library imported inside
the handler that needs it.
"""
