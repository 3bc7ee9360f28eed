"""One module per `trainwell` sub-command: each has HELP, add_args(parser) and run(args) -> int."""
