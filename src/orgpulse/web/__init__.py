"""HTTP layer: app factory, dependencies, templating, error mapping."""
