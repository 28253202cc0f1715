"""The front end: MCDL text to spec-level IR (parsing, transforming, imports)."""
