"""The questionnaire: the questions an answers file answers (`questions`) and their help and sources (`help`).

It reads the clause library (jurisdictions, sources), so it sits above `library/`; the CLI and the web interview ask it.
"""
