"""Command-line entry points. Heavy modules are imported inside `main()` so `-h` is instant."""
