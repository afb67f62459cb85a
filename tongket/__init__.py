"""The operator's side of tongket: settings, the `tongket` command and the demo."""
