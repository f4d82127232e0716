"""`mllint lsp`: the language server, a front end of the linter for editors."""
