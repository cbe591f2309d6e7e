"""One module per `checkpoint` subcommand (see checkpoint.cli)."""
