"""The Jinja sandbox that every clause text and template renders in (`environment`), and the static check of
the fields a text uses, before it renders (`names`)."""
