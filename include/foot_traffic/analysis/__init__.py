"""Reading runs back and judging them: validate (reconciliation and statistical tests),
charts, read-back from the topics, and ``fit`` (a profile from door counts)."""
