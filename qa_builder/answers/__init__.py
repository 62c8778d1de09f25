"""Answers stage: load an answers YAML file with line numbers (`load`) and describe its JSON schema (`schema`)."""
