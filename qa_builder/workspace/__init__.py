"""Workspaces: the on-disk layout of agreements and versions (`layout`) and what a version is built from (`inputs`)."""
