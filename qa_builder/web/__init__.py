"""The local web app of `qa-builder serve`."""
