"""`python -m qa_builder` runs the command line."""

if __name__ == "__main__":  # not when a worker process (the Typst typesetters) imports the parent's main module
    from qa_builder.cli import main

    main(prog_name="qa-builder")
