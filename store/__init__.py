"""The store: the event log on the database one URL names, its schema, the append-only triggers,
the hash chain over every stored event and its signed checkpoints. It knows no command and no
read model; commands and read models use it."""
