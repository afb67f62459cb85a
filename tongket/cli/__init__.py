"""The operator's side: the `tongket` command, the demo and the embedded worker it starts."""
