"""The data: tables, sessions, migrations and domain value types. Imports nothing else of tongket's."""
