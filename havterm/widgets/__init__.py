"""Dashboard widgets: thin Textual widgets over pure Rich renderables and plain view data."""
