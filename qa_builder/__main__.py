"""`python -m qa_builder` runs the command line."""

from qa_builder.cli import main

main(prog_name="qa-builder")
