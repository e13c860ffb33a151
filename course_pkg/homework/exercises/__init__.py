"""One module per chapter, each registering that chapter's exercise checks."""
