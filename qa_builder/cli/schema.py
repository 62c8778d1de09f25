"""`qa-builder schema`: print the JSON Schema of answers files."""

from __future__ import annotations

import json

import click


@click.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of an answers file (for editors that validate YAML/JSON), with a description and
    an example for every field."""
    from qa_builder.answers.schema import answers_schema

    click.echo(json.dumps(answers_schema(), indent=2, ensure_ascii=False))
