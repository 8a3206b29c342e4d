"""`python -m minigen ...` is the `minigen` command."""
from .cli import main

main()
