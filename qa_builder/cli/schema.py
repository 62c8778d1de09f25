"""`qa-builder schema`: print the JSON Schema of answers files."""

from __future__ import annotations

import json

import click

from qa_builder.models.answers import Answers


@click.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of an answers file (for editors that validate YAML/JSON)."""
    schema = Answers.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "qa-builder answers file"
    click.echo(json.dumps(schema, indent=2, ensure_ascii=False))
