"""`faultline ...` commands, one module per command family; `faultline.cli` loads them lazily."""
