"""Review stage: the checks a build runs first (`preflight`), the review checks and their findings (`checks`),
and findings for many answers files (`many`)."""
